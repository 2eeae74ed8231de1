"""Downloads beside "Get the code": the same code as a notebook."""

from __future__ import annotations

from core.i18n import _
from core.ml import notebook


def notebook_button(where, text: str, code_file: str, key: str) -> None:
    """ "Get the notebook": the same code as "Get the code", as a Jupyter notebook whose steps
    are explained in the reader's language (core.ml.notebook)."""
    where.download_button(
        _("Get the notebook"),
        text,
        file_name=notebook.file_name(code_file),
        mime="application/x-ipynb+json",
        icon=":material/menu_book:",
        key=key,
        on_click="ignore",
        help=_(
            "The same code as a Jupyter notebook, each step explained, for Jupyter or Google "
            "Colab (File → Upload notebook; its first cell says how). Put the data file "
            "(Get the data) beside it."
        ),
    )
