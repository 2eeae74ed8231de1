"""Autoencoder Lab: the entry point. `streamlit run app.py` serves every page from here.

Pages are registered with `st.navigation` at stable URL paths, so a teacher can share a link
to `/train`, `/race`, `/draw`, `/latent`, `/inside`, `/compare`, `/odd` or `/images` and it
keeps working as the app grows. Their titles are in the reader's language (ui.language); their
paths never are.
"""

import streamlit as st

from core.i18n import N_, _
from ui import boot, identity, language, layout, notices, sidebar

# The page title is set once the language is known (below).
st.set_page_config(page_icon=":material/hub:", layout="wide")
boot.prepare_server()

# (script, title, icon, URL path): the titles are translated on every run.
PAGES = [
    ("pages/home.py", N_("Home"), ":material/home:", None),
    ("pages/train.py", N_("Train"), ":material/model_training:", "train"),
    ("pages/race.py", N_("Race"), ":material/sports_score:", "race"),
    ("pages/draw.py", N_("Draw"), ":material/draw:", "draw"),
    ("pages/latent.py", N_("Latent space"), ":material/scatter_plot:", "latent"),
    ("pages/inside.py", N_("Inside"), ":material/biotech:", "inside"),
    ("pages/compare.py", N_("Compare"), ":material/compare:", "compare"),
    ("pages/odd.py", N_("Odd one out"), ":material/search:", "odd"),
    ("pages/images.py", N_("Your images"), ":material/photo_library:", "images"),
    ("pages/class.py", N_("Class"), ":material/groups:", "class"),
]

# The student (and their class) first: a class's students see only the lesson's pages, and a
# hidden page's URL falls back to Home, because it is not in this session's navigation at all.
# Then the language, which the class's teacher may have fixed: nothing is drawn before it.
language.apply()  # The reader's own, for what opening the store may show (a spinner).
identity.student()
lesson = identity.read_lesson()
language.apply(lesson.setup.language)
st.set_page_config(page_title=_("Autoencoder Lab"))
page = st.navigation(
    [
        st.Page(script, title=_(title), icon=icon, url_path=path, default=path is None)
        for script, title, icon, path in PAGES
        if path is None or lesson.shows(path)
    ]
)

sidebar.sidebar()
with st.sidebar:
    layout.apply()
    st.caption(
        _(
            "**Autoencoder Lab** — learn how autoencoders compress, reconstruct, denoise and "
            "generate images, by training and poking at them yourself."
        )
    )
    language.switch(lesson.setup.language)

notices.show()  # Above the page, where the eye is: an unknown link, a joined class.
page.run()
