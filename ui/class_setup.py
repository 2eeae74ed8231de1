"""The teacher's forms on the Class page: the lesson's setup (pages, variants, locked
settings, limits, the class's language) and the class's challenges."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core import i18n
from core.cluster import tasks
from core.cluster.client import EngineUnavailable
from core.i18n import _
from core.lab import classroom
from core.lab.classroom.setup import in_sentence, noise_name, shown
from core.ml import choices, data, variants
from ui import services, session, words

CONSTRAINED = ("epochs", "subset", "code_size", "learning_rate", "batch_size")
# What a save or an add did, kept across the rerun that redraws the page with it: (place, kind,
# Markdown). A toast before `st.rerun` is dropped with the run, so the teacher saw nothing.
NOTICE = "class_notice"
NEW_CHALLENGE = "new challenge"  # i18n: not shown (the place of a notice, a key)
# The new-challenge form's widget keys end with this number; a successful add moves it on, so
# the next form starts empty, while a refused add keeps what the teacher typed.
FORM = "challenge_form"
# The setup's language choice: each student's own (the class fixes none), or one of the lab's.
EACH = "each"


def setup_ui(room, key: str) -> None:
    current = classroom.Setup.from_json(room.setup)
    st.markdown(_("What the class's students see. Changes reach them at their next click."))
    with st.form("class_setup"):
        pages = st.multiselect(
            _("Pages"),
            classroom.PAGES,
            default=list(current.pages),
            format_func=lambda page: _(classroom.PAGE_TITLES[page]),
            help=_("Home and Class are always there."),
        )
        chosen = st.multiselect(
            _("Variants"),
            variants.names(),
            default=list(current.variants),
            format_func=words.title,
        )
        max_epochs = st.slider(_("Most epochs per run"), 1, 50, current.max_epochs)
        max_subset = st.select_slider(
            _("Most training images per run"),
            choices.SUBSETS,
            value=current.max_subset,
            format_func=lambda n: f"{n:,}",
        )
        offered = [EACH, *i18n.LANGUAGES]
        language = st.radio(
            _("Language of the class's pages"),
            offered,
            index=offered.index(current.language or EACH),
            # Each language in its own words, so a teacher finds theirs whatever they read.
            format_func=lambda code: (
                _("Each student's own") if code == EACH else i18n.LANGUAGES[code][1]
            ),
            horizontal=True,
            key="class_language",
            help=_(
                "Fixed: every page opens in this language for the class's students (their "
                "language switch is off), and both links at the top of this page carry it. Each "
                "student's own: their browser's language, or the one they pick in the sidebar."
            ),
        )
        if st.form_submit_button(_("Save the setup"), type="primary"):
            save(
                key,
                current,
                replace(
                    current,
                    pages=tuple(pages),
                    variants=tuple(chosen),
                    max_epochs=max_epochs,
                    max_subset=max_subset,
                    language=None if language == EACH else language,
                ),
                "setup",
            )
    show_notice("setup")
    st.markdown(
        _("**Locked settings**: a locked setting is shown to students, disabled, with your value.")
    )
    name = st.selectbox(
        _("Variant"), list(current.variants), format_func=words.title, key="lock_variant"
    )
    locked = current.locked(name)
    start = {**choices.defaults(name), **locked}
    with st.form(f"locks_{name}"):
        picked = {}
        for item in choices.for_variant(name):
            lock_column, value_column = st.columns([1, 3], vertical_alignment="bottom")
            on = lock_column.checkbox(
                _("Lock {setting}").format(setting=in_sentence(item.label)),
                value=item.name in locked,
                key=f"lock_{name}_{item.name}",
            )
            # Only what the class's limits allow: a lock of 30 epochs under a limit of 10
            # would train 10 while the teacher was told 30.
            offered = current.choices(name, item.name)
            value = start[item.name] if start[item.name] in offered else offered[-1]
            if item.numeric:
                chosen_value = value_column.select_slider(
                    _(item.label),
                    offered,
                    value=value,
                    key=f"lockvalue_{name}_{item.name}",
                    format_func=item.show,
                )
            else:
                chosen_value = value_column.selectbox(
                    _(item.label),
                    offered,
                    index=offered.index(value),
                    key=f"lockvalue_{name}_{item.name}",
                    format_func=lambda v, i=item: shown(i, v),
                )
            if on:
                picked[item.name] = chosen_value
        if st.form_submit_button(
            _("Save the locks of {variant}").format(variant=words.title(name))
        ):
            locks = {**current.locks, name: picked}
            if not picked:
                locks.pop(name)
            save(key, current, replace(current, locks=locks), f"locks_{name}", name)
    show_notice(f"locks_{name}")


def save(key: str, current, setup, place: str, locks_of: str | None = None) -> None:
    """Save `setup` (the server checks the key and every value) and say what changed, at
    `place`: the setup's form, or the locks of variant `locks_of`; a refusal shows where the
    teacher pressed Save, with the form as they left it."""
    try:
        saved = classroom.Setup.from_json(setup.to_json())
        changes = classroom.setup_changes(current, saved)
        if changes:
            classroom.save_setup(services.live_store(), key, saved)
    except classroom.ClassError as error:
        refused(error, _("Not saved: {reason}."))
        return
    variant = words.title(locks_of) if locks_of else ""
    if not changes and locks_of:
        notice(
            place,
            "info",
            _("Nothing to save: these are already the locks of {variant}.").format(variant=variant),
        )
    elif not changes:
        notice(place, "info", _("Nothing to save: these are already the setup."))
    else:
        # Translators: between the changes in "Saved the setup: pages added: Draw; at most 5
        # epochs per run. …"
        said = _("; ").join(changes)
        if locks_of:
            text = _(
                "Saved the locks of {variant}: {changes}. Students see it at their next click."
            )
            headline = _("Saved the locks of {variant}.")
        else:
            text = _("Saved the setup: {changes}. Students see it at their next click.")
            headline = _("Saved the setup.")
        notice(
            place,
            "success",
            text.format(variant=variant, changes=said),
            headline.format(variant=variant),
        )
    st.rerun()


def notice(place: str, kind: str, text: str, headline: str | None = None) -> None:
    """Leave `text` for `place` to show after the rerun, with `headline` as a toast too: the
    place may be under the fold (the setup form's Save is at a laptop screen's bottom edge)."""
    st.session_state[NOTICE] = (place, kind, text, headline)


def sentence(error: Exception) -> str:
    """A refusal (a ClassError says it as a clause: "a class needs at least one variant") as a
    sentence of its own, in the reader's punctuation."""
    text = str(error).rstrip(".")
    # Translators: a refusal shown on its own: "A class needs at least one variant."
    return _("{reason}.").format(reason=text[:1].upper() + text[1:])


def refused(error: Exception, toast: str) -> None:
    """A refusal under the button pressed, and as a toast (`toast` says what was not done,
    with a {reason}): the button may sit at the fold, and a toast of the action before ("Added
    the challenge.") may still be on screen."""
    services.refusal(error)
    st.toast(toast.format(reason=words.plain(str(error))), icon=":material/block:")


def show_notice(place: str) -> None:
    """The notice a save or an add left for this place (forgotten at the end of the run)."""
    found = st.session_state.get(NOTICE)
    if not found or found[0] != place:
        return
    _place, kind, text, headline = found
    show = {"success": st.success, "info": st.info, "warning": st.warning}[kind]
    icons = {"success": "check_circle", "info": "info", "warning": "cloud_off"}
    show(text, icon=f":material/{icons[kind]}:")
    if headline:
        st.toast(headline, icon=":material/check_circle:")


def challenges_ui(room, key: str) -> None:
    found = classroom.class_challenges(services.live_store(), room.id)
    show_notice("challenges")
    for challenge in found:
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.markdown(
                f"**{words.plain(challenge.title)}**  \n{words.plain(challenge.rules_text())}"
            )
            if st.button(_("Remove"), icon=":material/delete:", key=f"remove_{challenge.id}"):
                remove_challenge(key, challenge)
    if not found:
        st.caption(_("No challenge yet."))
    st.markdown(_("**New challenge**"))
    form = st.session_state.setdefault(FORM, 0)
    with st.form("new_challenge"):
        title = st.text_input(
            _("Title"),
            placeholder=_("Smallest code, best reconstruction"),
            max_chars=80,
            key=f"challenge_title_{form}",
        )
        uploads = {
            data.own_name(row.id): row.name
            for row in classroom.class_datasets(services.live_store(), key)
        }
        datasets = [*data.DATASETS, *uploads]
        current = session.current_dataset()
        dataset = st.selectbox(
            _("Images"),
            datasets,
            index=datasets.index(current) if current in datasets else 0,
            # A select box shows the class's uploads' names as plain text, as typed.
            format_func=lambda name: uploads.get(name) or _(data.get(name).title),
            key=f"challenge_dataset_{form}",
            help=_(
                "Only runs trained on these images enter: scores on two datasets cannot be "
                "ranked together. Students choose the dataset in their sidebar."
            ),
        )
        metric = st.selectbox(
            _("Ranked by"),
            list(classroom.METRICS),
            format_func=lambda name: _(classroom.METRICS[name][0]),
            key=f"challenge_metric_{form}",
        )
        allowed = st.multiselect(
            _("Variants allowed (none: any)"),
            list(room.setup.get("variants") or variants.names()),
            format_func=words.title,
            key=f"challenge_variants_{form}",
        )
        st.caption(_("Constraints on the settings (any: no constraint)."))
        columns = st.columns(len(CONSTRAINED))
        constraints = {}
        for column, name in zip(columns, CONSTRAINED, strict=True):
            item = choices.setting("vanilla", name)
            bound = column.selectbox(
                _("{setting} at most").format(setting=_(item.label)),
                ("any", *item.choices),
                # Translators: a constraint's choice meaning no constraint.
                format_func=lambda v, i=item: _("any") if v == "any" else i.show(v),
                key=f"challenge_{name}_{form}",
            )
            if bound != "any":
                constraints[name] = {"max": bound}
        from core.ml import noise

        st.caption(_("For PSNR after denoising: the noise added to the test images."))
        noise_columns = st.columns(2)
        noise_kind = noise_columns[0].selectbox(
            _("Noise kind"),
            noise.KINDS,
            format_func=noise_name,
            key=f"challenge_noise_kind_{form}",
        )
        noise_level = noise_columns[1].select_slider(
            _("Noise level"),
            choices.setting("denoising", "noise_level").choices[1:],
            value=0.5,
            key=f"challenge_noise_level_{form}",
        )
        if st.form_submit_button(
            _("Add the challenge"), type="primary", icon=":material/emoji_events:"
        ):
            add_challenge(
                key,
                {
                    "title": title,
                    "metric": metric,
                    "variants": allowed,
                    "constraints": constraints,
                    "noise_kind": noise_kind,
                    "noise_level": noise_level,
                    "dataset": dataset,
                },
            )
    show_notice(NEW_CHALLENGE)


def forget_notice() -> None:
    """After every tab is drawn: a notice is shown once, and one whose place was not drawn
    (its variant removed since) is dropped."""
    st.session_state.pop(NOTICE, None)


def add_challenge(key: str, rules: dict) -> None:
    """Add it (the server checks the key and the rules), then empty the form for the next one;
    a refusal shows in the form, which keeps what the teacher typed."""
    opened = services.live_store()
    try:
        challenge = classroom.Challenge.from_json(rules)
        challenge_id = classroom.add_challenge(opened, key, challenge)
    except classroom.ClassError as error:
        refused(error, _("Not added: {reason}."))
        return
    st.session_state[FORM] = st.session_state.get(FORM, 0) + 1
    named = {
        "title": words.plain(challenge.title),
        "rules": words.plain(challenge.rules_text()),
    }
    engine = services.engine()
    try:  # Runs that finished before the challenge existed are scored by a training worker.
        engine.send(tasks.score_challenge, challenge_id, opened.display_url)
    except EngineUnavailable:
        notice(
            NEW_CHALLENGE,
            "warning",
            _(
                "Added the challenge **{title}** ({rules}): it is on every board of the class "
                "now. The training cluster cannot be reached, so runs that finished before now "
                "are not scored; new runs are."
            ).format(**named),
            _("Added the challenge."),
        )
    else:
        notice(
            NEW_CHALLENGE,
            "success",
            _(
                "Added the challenge **{title}** ({rules}): it is on every board of the class "
                "now. Runs that finished already are scored in a moment."
            ).format(**named),
            _("Added the challenge."),
        )
    st.rerun()


def remove_challenge(key: str, challenge) -> None:
    try:
        classroom.remove_challenge(services.live_store(), key, challenge.id)
    except classroom.ClassError as error:  # Removed already, in another tab.
        notice("challenges", "info", sentence(error))
    else:
        notice(
            "challenges",
            "success",
            _("Removed the challenge **{title}** from the board.").format(
                title=words.plain(challenge.title)
            ),
            _("Removed the challenge."),
        )
    st.rerun()
