"""Compare: every variant side by side on the same test digits."""

import streamlit as st

st.title("Compare variants")
st.markdown(
    """
This page will show every variant's reconstructions of the same test digits side by side,
with the test metrics from each model's card (reconstruction error, PSNR, code size,
parameters, training time), so you can see what each constraint costs and buys.
"""
)
st.info("The comparison is not available yet.", icon=":material/construction:")
