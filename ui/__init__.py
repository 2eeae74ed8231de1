"""Streamlit helpers shared by the pages: state, cached models, and image display.

Everything here is thin glue between widgets and `core`; the numbers come from `core`.
"""
