"""The shared sidebar (drawn by app.py before every page): dataset, variant, its explanation,
the model choice, the class line and "Your link"; and the model the pages use."""

from __future__ import annotations

import contextlib
import functools

import streamlit as st

from core import i18n
from core.i18n import _, ngettext
from core.lab.runs import usable
from core.ml import codegen, data, variants
from ui import dataset_choice, downloads, language
from ui.actions import my_runs
from ui.identity import LINK, STUDENT, Student, ensure_student, lesson, start_fresh, student
from ui.resources import (
    ModelRef,
    NoShippedModel,
    NotServable,
    card,
    dataset_npz,
    pretrained,
    run_model,
    shipped_code,
    shipped_notebook,
)
from ui.services import engine, store, store_failed
from ui.session import (
    CHOOSE,
    DATASET,
    MODEL,
    MODEL_LINK,
    PRETRAINED,
    VARIANT,
    current_dataset,
    on_upload,
)
from ui.words import NOT_SERVABLE, dataset_title, metric_line, plain, run_label, title


def _mirror_to_url() -> None:
    st.query_params[VARIANT] = st.session_state[VARIANT]


def variant_picker() -> str:
    """The sidebar's variant select box, seeded from `?variant=` and mirrored back to it.

    The URL holds the registry name (`?variant=conv`), so a teacher's link opens the same
    view. Streamlit's own widget binding would put the display title in the URL instead.
    """
    names = list(lesson().setup.variants)
    if st.session_state.get(VARIANT) not in (None, *names):
        st.session_state.pop(VARIANT)  # Not part of this lesson (any more).
    if VARIANT not in st.session_state:  # This session's first run: the link decides.
        asked = st.query_params.get(VARIANT)
        st.session_state[VARIANT] = asked if asked in names else names[0]
        st.session_state["variant_link_invalid"] = asked is not None and asked not in names
    if st.query_params.get(VARIANT) != st.session_state[VARIANT]:
        _mirror_to_url()  # Page switches drop query parameters; keep the link shareable.
    name = st.sidebar.selectbox(
        _("Autoencoder variant"), names, key=VARIANT, format_func=title, on_change=_mirror_to_url
    )
    if st.session_state.pop("variant_link_invalid", False):
        # The user's text is not echoed back: it came from a URL anyone could have crafted.
        st.sidebar.warning(
            _("The link asked for a variant this lab does not have; showing {variant}.").format(
                variant=title(name)
            ),
            icon=":material/link_off:",
        )
    return name


def model_picker(name: str) -> None:
    """The sidebar's model choice: the shipped model or one of the student's own runs."""
    runs = {run.id: run for run in my_runs(name, current_dataset()) if usable(run)}
    # An upload has no shipped model: its newest run is the default, else "none yet".
    options = ([*runs] or [PRETRAINED]) if on_upload() else [PRETRAINED, *runs]
    asked = st.query_params.get(MODEL_LINK, "")
    if MODEL not in st.session_state and asked.isdigit():  # A reload or a shared link.
        st.session_state[MODEL] = int(asked)
    pending = st.session_state.pop(CHOOSE, None)  # Set by choose_model().
    if pending in options:
        st.session_state[MODEL] = pending
    if st.session_state.get(MODEL) not in options:
        st.session_state[MODEL] = options[0]
    none = _("None yet") if on_upload() else _("Pretrained (shipped)")
    st.sidebar.selectbox(
        _("Model"),
        options,
        key=MODEL,
        format_func=lambda choice: none if choice == PRETRAINED else run_label(runs[choice]),
        help=_("Your runs of this variant, newest first: every page then uses the chosen one."),
        disabled=not runs and on_upload(),
    )
    if not runs:
        st.sidebar.caption(_("Train this variant on the Train page to use your own model here."))
    chosen = st.session_state[MODEL]
    if chosen == PRETRAINED:
        st.query_params.pop(MODEL_LINK, None)
    elif st.query_params.get(MODEL_LINK) != str(chosen):
        st.query_params[MODEL_LINK] = str(chosen)  # A reload keeps the chosen run.


def choose_model(choice, variant: str | None = None, dataset: str | None = None) -> None:
    """Make a run id (or PRETRAINED) the sidebar's model from the next page run on, with its
    variant and the dataset it trained on. Safe in callbacks and fragments: the sidebar's
    widgets take them before they are drawn."""
    if variant is not None:
        st.session_state[VARIANT] = variant
    if dataset is not None:
        st.session_state[DATASET] = dataset
    st.session_state[CHOOSE] = choice


def current_model(name: str) -> ModelRef:
    """The model the pages use for variant `name`: the chosen run if it is of that variant."""
    from core.store import StoreError

    choice, me, opened = st.session_state.get(MODEL), st.session_state.get(STUDENT), store()
    if choice not in (None, PRETRAINED) and me is not None and opened is not None:
        try:
            run = opened.run(int(choice), me.id)
            same_data = run is not None and run.dataset == current_dataset()
            if same_data and run.variant == name and usable(run):
                return ModelRef(run.key, run_model(run), run_label(run), run.id, name)
        except StoreError as error:
            store_failed(error)
        except NotServable:  # From before runs stored a served model: say so, use the shipped.
            choose_model(PRETRAINED)
            st.toast(_(NOT_SERVABLE), icon=":material/info:")
        except LookupError:  # Deleted in another tab since the sidebar listed it.
            choose_model(PRETRAINED)  # The sidebar's choice too, from the next run on.
            st.toast(
                _("That run is gone.")  # An upload has no pretrained model to show instead.
                if on_upload()
                else _("That run is gone; showing the pretrained model."),
                icon=":material/info:",
            )
    if on_upload():  # No shipped model: the newest run of the variant, else NoShippedModel.
        found = newest_runs(name)
        if not found:
            raise NoShippedModel(name, current_dataset())
        return found[0]
    return pretrained(name)


def newest_runs(variant: str | None = None) -> list[ModelRef]:
    """The student's newest usable run of each variant (or of `variant`) on the session's
    dataset, servable ones only, in teaching order."""
    newest = {}
    for run in my_runs(variant, current_dataset()):  # Newest first.
        if usable(run) and run.variant not in newest:
            with contextlib.suppress(NotServable):
                newest[run.variant] = ModelRef(
                    run.key, run_model(run), run_label(run), run.id, run.variant
                )
    return [newest[name] for name in variants.names() if name in newest]


def explain(name: str) -> None:
    """Its test metrics in one line, and a paragraph on what makes the variant learn."""
    variant = variants.get(name)
    info = card(name)
    if info and info.get("metrics"):
        st.sidebar.caption(_("Test set: {metrics}").format(metrics=metric_line(info["metrics"])))
    # Translators: the sidebar's expander with a paragraph on the chosen variant.
    with st.sidebar.expander(_("About {variant}").format(variant=title(name)), expanded=False):
        st.write(_(variant.summary))
        if variant.source:  # Which chapter of the source texts teaches it.
            st.caption(_(variant.source))
        if info:
            training = info["training"]
            epochs = training["epochs_completed"]
            st.caption(
                ngettext(
                    "{parameters:,} parameters · trained {epochs} epoch in {seconds:.0f} s",
                    "{parameters:,} parameters · trained {epochs} epochs in {seconds:.0f} s",
                    epochs,
                ).format(parameters=info["parameters"], epochs=epochs, seconds=training["seconds"])
            )
        if on_upload():  # No shipped model: each run has its own code (Train page).
            return
        st.download_button(
            _("Get the code"),
            shipped_code(name, current_dataset()),
            file_name=codegen.shipped_file_name(name, current_dataset()),
            mime="text/x-python",
            icon=":material/code:",
            key="shipped_code",
            on_click="ignore",
            help=_(
                "The shipped model's architecture and recipe as one Python file (Keras and "
                "NumPy only): it trains, evaluates on the test set and saves. It finds the images "
                "where the lab keeps them on this machine, else beside it (Get the data), else "
                "downloads them."
            ),
        )
        downloads.notebook_button(
            st,
            shipped_notebook(name, current_dataset(), i18n.language()),
            codegen.shipped_file_name(name, current_dataset()),
            "shipped_notebook",
        )
        data_button(st, current_dataset(), "shipped_data")


def data_button(where, dataset: str, key: str) -> None:
    """ "Get the data (.npz)" beside "Get the code": the images the file trains on, so it runs
    on a machine without the lab or the internet. Built only when pressed (a deferred
    download): a page's run never compresses 11 to 31 MB it may not send."""
    if data.own_id(dataset) is not None and data.available(dataset):
        return  # A deleted upload: its runs stay, its images are gone.
    # An upload's file is built on each press, not kept: uploads must not push the lab's two
    # datasets out of the shared cache.
    build = dataset_npz if data.own_id(dataset) is None else codegen.data_npz
    where.download_button(
        _("Get the data (.npz)"),
        functools.partial(build, dataset),
        file_name=codegen.data_file_name(dataset),
        mime="application/octet-stream",
        icon=":material/dataset:",
        key=key,
        on_click="ignore",
        help=_(
            "{dataset} as one compressed NumPy file: uint8 arrays x_train and x_test (with "
            "their labels y_train and y_test). Save it beside the code and the file finds it, "
            "or pass --data FILE.npz."
        ).format(dataset=dataset_title(dataset)),
    )


def class_ui() -> None:
    """The sidebar's class line for a class's student: the lesson and their nickname."""
    found = lesson()
    if found.room is None or found.member is None:
        return
    # Joining is announced in the main column (ui.notices); the sidebar keeps the line.
    # Translators: the sidebar's class line: the class's name, then the student's nickname.
    st.sidebar.caption(
        _(":material/groups: {room} · you are {nickname}").format(
            room=plain(found.room.name), nickname=plain(found.member.nickname)
        )
    )


def link_ui(me: Student | None) -> None:
    """The sidebar's "Your link" with a copy button, or the banner when the store is down."""
    # An unknown personal or class link is told in the main column (ui.notices).
    if me is None and store() is not None:
        with st.sidebar.popover(_("Your link"), icon=":material/link:", width="stretch"):
            st.markdown(
                _(
                    "You get a personal link the first time you train or race: it is the key to "
                    "your runs, to bookmark or to open on another computer. No account, nothing "
                    "personal stored."
                )
            )
            if st.button(_("Get my link now"), icon=":material/add_link:", key="get_link"):
                from core.store import StoreError

                try:
                    ensure_student()
                except StoreError as error:  # The sidebar is outside every page's guard.
                    store_failed(error)
                    st.warning(_("Your link cannot be made right now; try again in a minute."))
                else:
                    st.rerun()
        return
    if me is None:
        # The reason (host, database, driver message) goes to the operator's log, not to
        # every student's screen.
        st.sidebar.warning(
            _(
                "Your runs cannot be stored right now, so training is off until the run store "
                "is back. The pretrained models work as usual."
            ),
            icon=":material/cloud_off:",
        )
        return
    with st.sidebar.popover(_("Your link"), icon=":material/link:", width="stretch"):
        st.markdown(
            _(
                "This link is the key to your runs: bookmark it, or open it on another computer "
                "to continue there. Anyone who has it sees your runs, so share it with care."
            )
        )
        st.code(my_link(me.token), language=None, wrap_lines=True)
        if lesson().room is not None:  # A new link would leave the class and its board.
            st.caption(_("In a class, this link keeps you in it: open it again to come back."))
        elif st.button(
            _("Start fresh"),
            icon=":material/restart_alt:",
            key="start_fresh",
            help=_("A new, empty link. Your current link keeps working."),
        ):
            start_fresh()
            st.rerun()


def sidebar() -> str:
    """The shared sidebar: dataset, variant, its explanation, the model choice and your link."""
    dataset_choice.dataset_picker()
    name = variant_picker()
    explain(name)
    me = student()
    model_picker(name)
    class_ui()
    link_ui(me)
    engine()  # Started with the first page anyone opens: queued runs train, stale ones end.
    return name


def current_variant() -> str:
    """The variant chosen in the sidebar (app.py draws the sidebar before every page)."""
    return st.session_state.get(VARIANT) or lesson().setup.variants[0]


def my_link(token: str) -> str:
    """This page's address with the student's token (and the chosen variant, and the language
    when the reader chose one: a language taken from the browser is not written in a link)."""
    from urllib.parse import urlencode, urlsplit, urlunsplit

    parts = urlsplit(st.context.url or "http://localhost:8501/")
    asked = {VARIANT: current_variant(), LINK: token}
    chosen = st.session_state.get(language.CHOSEN)
    if chosen:
        asked[language.PARAM] = chosen
    query = urlencode(asked)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
