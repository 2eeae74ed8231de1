"""The teacher's forms on the Class page: the lesson's setup (pages, variants, locked
settings, limits) and the class's challenges."""

from __future__ import annotations

import streamlit as st

from core.cluster import tasks
from core.cluster.client import EngineUnavailable
from core.lab import classroom
from core.ml import choices, variants
from ui import services, words

CONSTRAINED = ("epochs", "subset", "code_size", "learning_rate", "batch_size")


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
                classroom.Setup(tuple(pages), tuple(chosen), current.locks, max_epochs, max_subset),
            )
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
            offered = item.choices
            value = start[item.name] if start[item.name] in offered else offered[0]
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
                classroom.Setup(
                    current.pages, current.variants, locks, current.max_epochs, current.max_subset
                ),
            )


def save(key: str, setup) -> None:
    try:
        classroom.save_setup(services.live_store(), key, setup)
    except classroom.ClassError as error:
        st.warning(str(error).capitalize() + ".", icon=":material/block:")
        return
    st.toast("Saved: students get the new setup at their next click.")
    st.rerun()


def challenges_ui(room, key: str) -> None:
    found = classroom.class_challenges(services.live_store(), room.id)
    for challenge in found:
        with st.container(border=True, horizontal=True, vertical_alignment="center"):
            st.markdown(
                f"**{words.plain(challenge.title)}**  \n{words.plain(challenge.rules_text())}"
            )
            if st.button("Remove", icon=":material/delete:", key=f"remove_{challenge.id}"):
                try:
                    classroom.remove_challenge(services.live_store(), key, challenge.id)
                except classroom.ClassError as error:  # Removed already, in another tab.
                    st.session_state["challenge_notice"] = str(error)
                st.rerun()
    if notice := st.session_state.pop("challenge_notice", None):
        services.refusal(notice)
    if not found:
        st.caption("No challenge yet.")
    st.markdown("**New challenge**")
    with st.form("new_challenge"):
        title = st.text_input(
            "Title", placeholder="Smallest code, best reconstruction", max_chars=80
        )
        metric = st.selectbox(
            "Ranked by",
            list(classroom.METRICS),
            format_func=lambda name: classroom.METRICS[name][0],
        )
        allowed = st.multiselect(
            "Variants allowed (none: any)",
            list(room.setup.get("variants") or variants.names()),
            format_func=words.title,
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
            )
            if bound != "any":
                constraints[name] = {"max": bound}
        from core.ml import noise

        st.caption("For PSNR after denoising: the noise added to the test images.")
        noise_columns = st.columns(2)
        noise_kind = noise_columns[0].selectbox(
            "Noise kind", noise.KINDS, format_func=lambda k: k.replace("_", " ")
        )
        noise_level = noise_columns[1].select_slider(
            "Noise level", choices.setting("denoising", "noise_level").choices[1:], value=0.5
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
                },
            )


def add_challenge(key: str, rules: dict) -> None:
    opened = services.live_store()
    try:
        challenge_id = classroom.add_challenge(opened, key, classroom.Challenge.from_json(rules))
    except classroom.ClassError as error:
        st.warning(str(error).capitalize() + ".", icon=":material/block:")
        return
    engine = services.engine()
    try:  # Runs that finished before the challenge existed are scored by a training worker.
        engine.send(tasks.score_challenge, challenge_id, opened.display_url)
    except EngineUnavailable:
        st.session_state["challenge_notice"] = (
            "Added. The training cluster cannot be reached, so runs that finished before now "
            "are not scored; new runs are."
        )
    st.rerun()
