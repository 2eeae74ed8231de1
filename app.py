"""Autoencoder Lab: the entry point. `streamlit run app.py` serves every page from here.

Pages are registered with `st.navigation` at stable URL paths, so a teacher can share a link
to `/train`, `/race`, `/draw`, `/latent`, `/inside` or `/compare` and it keeps working as the
app grows.
"""

import streamlit as st

from ui import boot, identity, layout, notices, sidebar

st.set_page_config(page_title="Autoencoder Lab", page_icon=":material/hub:", layout="wide")
boot.prepare_server()

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/race.py", title="Race", icon=":material/sports_score:", url_path="race"),
    st.Page("pages/draw.py", title="Draw", icon=":material/draw:", url_path="draw"),
    st.Page(
        "pages/latent.py", title="Latent space", icon=":material/scatter_plot:", url_path="latent"
    ),
    st.Page("pages/inside.py", title="Inside", icon=":material/biotech:", url_path="inside"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("pages/class.py", title="Class", icon=":material/groups:", url_path="class"),
]

# The student (and their class) first: a class's students see only the lesson's pages, and a
# hidden page's URL falls back to Home, because it is not in this session's navigation at all.
identity.student()
lesson = identity.read_lesson()
page = st.navigation([item for item in PAGES if lesson.shows(item.url_path)])

sidebar.sidebar()
with st.sidebar:
    layout.apply()
    st.caption(
        "**Autoencoder Lab** — learn how autoencoders compress, reconstruct, denoise and "
        "generate images, by training and poking at them yourself."
    )

notices.show()  # Above the page, where the eye is: an unknown link, a joined class.
page.run()
