"""Streamlit helpers shared by the pages, one module per job: the store and cluster handles
(`services`), shared models and images (`resources`), who the session is (`identity`), its
choices (`session`), the sidebar, texts (`words`), a student's runs (`actions`), pictures and
page parts.

Everything here is thin glue between widgets and `core`; the numbers come from `core`.
"""
