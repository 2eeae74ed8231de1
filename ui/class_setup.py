"""The teacher's forms on the Class page: the lesson's setup (pages, variants, locked
settings, limits) and the class's challenges."""

from __future__ import annotations

import streamlit as st

from core.cluster import tasks
from core.cluster.client import EngineUnavailable
from core.lab import classroom
from core.ml import choices, data, variants
from ui import services, session, words

CONSTRAINED = ("epochs", "subset", "code_size", "learning_rate", "batch_size")
# What a save or an add did, kept across the rerun that redraws the page with it: (place, kind,
# Markdown). A toast before `st.rerun` is dropped with the run, so the teacher saw nothing.
NOTICE = "class_notice"
# The new-challenge form's widget keys end with this number; a successful add moves it on, so
# the next form starts empty, while a refused add keeps what the teacher typed.
FORM = "challenge_form"


def setup_ui(room, key: str) -> None:
    current = classroom.Setup.from_json(room.setup)
    st.markdown("What the class's students see. Changes reach them at their next click.")
    with st.form("class_setup"):
        pages = st.multiselect(
            "Pages",
            classroom.PAGES,
            default=list(current.pages),
            format_func=classroom.PAGE_TITLES.get,
            help="Home and Class are always there.",
        )
        chosen = st.multiselect(
            "Variants",
            variants.names(),
            default=list(current.variants),
            format_func=words.title,
        )
        max_epochs = st.slider("Most epochs per run", 1, 50, current.max_epochs)
        max_subset = st.select_slider(
            "Most training images per run",
            choices.SUBSETS,
            value=current.max_subset,
            format_func=lambda n: f"{n:,}",
        )
        if st.form_submit_button("Save the setup", type="primary"):
            save(
                key,
                current,
                classroom.Setup(tuple(pages), tuple(chosen), current.locks, max_epochs, max_subset),
                "setup",
            )
    show_notice("setup")
    st.markdown(
        "**Locked settings**: a locked setting is shown to students, disabled, with your value."
    )
    name = st.selectbox(
        "Variant", list(current.variants), format_func=words.title, key="lock_variant"
    )
    locked = current.locked(name)
    start = {**choices.defaults(name), **locked}
    with st.form(f"locks_{name}"):
        picked = {}
        for item in choices.for_variant(name):
            lock_column, value_column = st.columns([1, 3], vertical_alignment="bottom")
            on = lock_column.checkbox(
                f"Lock {item.label.lower()}",
                value=item.name in locked,
                key=f"lock_{name}_{item.name}",
            )
            # Only what the class's limits allow: a lock of 30 epochs under a limit of 10
            # would train 10 while the teacher was told 30.
            offered = current.choices(name, item.name)
            value = start[item.name] if start[item.name] in offered else offered[-1]
            if item.numeric:
                chosen_value = value_column.select_slider(
                    item.label,
                    offered,
                    value=value,
                    key=f"lockvalue_{name}_{item.name}",
                    format_func=item.show,
                )
            else:
                chosen_value = value_column.selectbox(
                    item.label,
                    offered,
                    index=offered.index(value),
                    key=f"lockvalue_{name}_{item.name}",
                    format_func=item.show,
                )
            if on:
                picked[item.name] = chosen_value
        if st.form_submit_button(f"Save the locks of {words.title(name)}"):
            locks = {**current.locks, name: picked}
            if not picked:
                locks.pop(name)
            save(
                key,
                current,
                classroom.Setup(
                    current.pages, current.variants, locks, current.max_epochs, current.max_subset
                ),
                f"locks of {words.title(name)}",
            )
    show_notice(f"locks of {words.title(name)}")


def save(key: str, current, setup, what: str) -> None:
    """Save `setup` (the server checks the key and every value) and say what changed; a
    refusal shows where the teacher pressed Save, with the form as they left it."""
    try:
        saved = classroom.Setup.from_json(setup.to_json())
        changes = classroom.setup_changes(current, saved)
        if changes:
            classroom.save_setup(services.live_store(), key, saved)
    except classroom.ClassError as error:
        refused(error, "Not saved")
        return
    if not changes:
        notice(what, "info", f"Nothing to save: these are already the {what}.")
    else:
        notice(
            what,
            "success",
            f"Saved the {what}: " + "; ".join(changes) + ". Students see it at their next click.",
            f"Saved the {what}.",
        )
    st.rerun()


def notice(place: str, kind: str, text: str, headline: str | None = None) -> None:
    """Leave `text` for `place` to show after the rerun, with `headline` as a toast too: the
    place may be under the fold (the setup form's Save is at a laptop screen's bottom edge)."""
    st.session_state[NOTICE] = (place, kind, text, headline)


def refused(error: Exception, what: str) -> None:
    """A refusal under the button pressed, and as a toast: the button may sit at the fold, and
    a toast of the action before ("Added the challenge.") may still be on screen."""
    services.refusal(error)
    st.toast(f"{what}: {words.plain(str(error))}.", icon=":material/block:")


def show_notice(place: str) -> None:
    """The notice a save or an add left for this place (forgotten at the end of the run)."""
    found = st.session_state.get(NOTICE)
    if not found or found[0] != place:
        return
    _, kind, text, headline = found
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
            if st.button("Remove", icon=":material/delete:", key=f"remove_{challenge.id}"):
                remove_challenge(key, challenge)
    if not found:
        st.caption("No challenge yet.")
    st.markdown("**New challenge**")
    form = st.session_state.setdefault(FORM, 0)
    with st.form("new_challenge"):
        title = st.text_input(
            "Title",
            placeholder="Smallest code, best reconstruction",
            max_chars=80,
            key=f"challenge_title_{form}",
        )
        datasets = list(data.DATASETS)
        dataset = st.segmented_control(
            "Images",
            datasets,
            default=session.current_dataset(),
            format_func=lambda name: data.get(name).title,
            required=True,
            key=f"challenge_dataset_{form}",
            help="Only runs trained on these images enter: scores on two datasets cannot be "
            "ranked together. Students choose the dataset in their sidebar.",
        )
        metric = st.selectbox(
            "Ranked by",
            list(classroom.METRICS),
            format_func=lambda name: classroom.METRICS[name][0],
            key=f"challenge_metric_{form}",
        )
        allowed = st.multiselect(
            "Variants allowed (none: any)",
            list(room.setup.get("variants") or variants.names()),
            format_func=words.title,
            key=f"challenge_variants_{form}",
        )
        st.caption("Constraints on the settings (any: no constraint).")
        columns = st.columns(len(CONSTRAINED))
        constraints = {}
        for column, name in zip(columns, CONSTRAINED, strict=True):
            item = choices.setting("vanilla", name)
            bound = column.selectbox(
                f"{item.label} at most",
                ("any", *item.choices),
                format_func=lambda v, i=item: v if v == "any" else i.show(v),
                key=f"challenge_{name}_{form}",
            )
            if bound != "any":
                constraints[name] = {"max": bound}
        from core.ml import noise

        st.caption("For PSNR after denoising: the noise added to the test images.")
        noise_columns = st.columns(2)
        noise_kind = noise_columns[0].selectbox(
            "Noise kind",
            noise.KINDS,
            format_func=lambda k: k.replace("_", " "),
            key=f"challenge_noise_kind_{form}",
        )
        noise_level = noise_columns[1].select_slider(
            "Noise level",
            choices.setting("denoising", "noise_level").choices[1:],
            value=0.5,
            key=f"challenge_noise_level_{form}",
        )
        if st.form_submit_button(
            "Add the challenge", type="primary", icon=":material/emoji_events:"
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
    show_notice("new challenge")
    # Shown once: a notice whose place was not drawn (its variant removed since) is dropped.
    st.session_state.pop(NOTICE, None)


def add_challenge(key: str, rules: dict) -> None:
    """Add it (the server checks the key and the rules), then empty the form for the next one;
    a refusal shows in the form, which keeps what the teacher typed."""
    opened = services.live_store()
    try:
        challenge = classroom.Challenge.from_json(rules)
        challenge_id = classroom.add_challenge(opened, key, challenge)
    except classroom.ClassError as error:
        refused(error, "Not added")
        return
    st.session_state[FORM] = st.session_state.get(FORM, 0) + 1
    added = (
        f"Added the challenge **{words.plain(challenge.title)}** "
        f"({words.plain(challenge.rules_text())}): it is on every board of the class now."
    )
    engine = services.engine()
    try:  # Runs that finished before the challenge existed are scored by a training worker.
        engine.send(tasks.score_challenge, challenge_id, opened.display_url)
    except EngineUnavailable:
        notice(
            "new challenge",
            "warning",
            added + " The training cluster cannot be reached, so runs that finished before "
            "now are not scored; new runs are.",
            "Added the challenge.",
        )
    else:
        notice(
            "new challenge",
            "success",
            added + " Runs that finished already are scored in a moment.",
            "Added the challenge.",
        )
    st.rerun()


def remove_challenge(key: str, challenge) -> None:
    try:
        classroom.remove_challenge(services.live_store(), key, challenge.id)
    except classroom.ClassError as error:  # Removed already, in another tab.
        notice("challenges", "info", str(error)[:1].upper() + str(error)[1:] + ".")
    else:
        notice(
            "challenges",
            "success",
            f"Removed the challenge **{words.plain(challenge.title)}** from the board.",
            "Removed the challenge.",
        )
    st.rerun()
