"""Odd one out: train an autoencoder on normal images only, then flag the test images it
reconstructs badly, and meet the traps of doing so.

The run is an ordinary run (`TrainConfig.odd` names the labels it never sees) trained by a
worker; this page scores the 10,000 test images with its served model (`ui.odd_view`) and reads
the leave-one-digit-out table that `core.ml.odd_table` measured.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.i18n import _, moment
from core.lab import runs as lab_runs
from core.ml import choices, data, odd_one_out, variants
from ui import actions, identity, odd_view, resources, services, session, words
from ui.actions import watch
from ui.boot import ensure_navigation
from ui.run_view import status_ui

PICK = "odd_pick"  # The run box's key.
SHOWN = "odd_shown"  # The run to show next (a new run shows at once).
# Measured with the Train page's vanilla run (5 epochs of 10,000 images, code 32), on the test
# images: a 0 left out scored 0.896 (a 1: 0.489, a coin), so the first run shows it working.
# On Fashion-MNIST, the same run scored Bags (8) 0.945, Sandals 0.88, Trousers 0.833 and
# Sneakers 0.581: a sneaker rebuilds like the other shoes.
DEFAULT_ODD = {"mnist": [0], "fashion": [8]}
DEFAULT_VARIANT = "vanilla"


def odd_runs(dataset: str) -> list:
    """The student's odd-one-out runs on `dataset`, newest first."""
    return [run for run in actions.my_runs(dataset=dataset) if run.settings["train"].get("odd")]


@st.cache_data(show_spinner=False, max_entries=8, ttl=600)
def train_labels(name: str) -> np.ndarray:
    """An upload's training labels (ids are never reused, so the name keys them)."""
    return data.load_own(name)["y_train"]


def display(found, text: str, markdown: bool = True) -> str:
    return words.of_dataset(found.name, text, markdown)


def names_of(odd: list[int], found, markdown: bool = True) -> str:
    # Translators: between the names in a list inside a sentence ("1, 7")
    return _(", ").join(display(found, found.labels[label], markdown) for label in odd)


def setup_ui(lesson, found) -> tuple[str, dict] | None:
    """The form: what is odd, which variant (and code size). The run trains with the Train
    page's settings for the variant on the other labels' images."""
    st.subheader(_("1. Choose what is normal"))
    labels = found.labels
    odd = st.pills(
        _("The odd one out: left out of training"),
        list(range(len(labels))),
        selection_mode="multi",
        default=DEFAULT_ODD.get(found.name, [0]),
        format_func=lambda label: display(found, labels[label]),  # Pills read Markdown.
        key=f"odd_labels_{found.name}",
    )
    offered = [name for name in lesson.setup.variants if name in variants.names()]
    columns = st.columns(2)
    variant = columns[0].selectbox(
        _("Variant"),
        offered,
        index=offered.index(DEFAULT_VARIANT) if DEFAULT_VARIANT in offered else 0,
        format_func=words.title,
        key="odd_variant",
    )
    values = choices.defaults(variant, found.name)
    if data.own_id(found.name) is not None and odd:  # An upload of a few hundred images:
        normal = int((~np.isin(train_labels(found.name), odd)).sum())  # epochs to match.
        values = choices.scaled_to(values, normal, services.limits().max_epochs)
    sizes = [item for item in choices.for_variant(variant) if item.name == "code_size"]
    if sizes:
        values["code_size"] = columns[1].select_slider(
            _(sizes[0].label),
            sizes[0].choices,
            value=values["code_size"],
            key=f"odd_code_{variant}",
        )
    if not odd:
        st.info(_("Pick at least one class to leave out: it is the odd one the model never sees."))
        return None
    if len(odd) == len(labels):
        st.info(_("Leave at least one class as normal to train on."))
        return None
    st.caption(
        _(
            "Trains on every training image but the odd ones ({odd}), with the Train page's "
            "settings for this variant: {settings}."
        ).format(odd=names_of(odd, found), settings=choices.describe(values, translated=True))
    )
    if st.button(
        _("Train on the normal images only"), type="primary", icon=":material/play_arrow:"
    ):
        return variant, {**values, "odd": odd}
    return None


def traps_ui(run, scored: odd_view.Scored, threshold: float, found) -> None:
    """The known traps, measured with this run: images in no dataset, and the code size."""
    st.subheader(_("3. The traps"))
    model = resources.run_model(run)
    lines, passed = [], []
    for name, image in odd_one_out.probes().items():
        error = float(odd_one_out.errors(image, model(image))[0])
        above = float((scored.normal_scores < error).mean())
        if error < threshold:
            passed.append(_(odd_view.PROBES[name]))
        lines.append(
            _(
                "- {probe}: error {error:.4f}, higher than {share:.0%} of the normal test "
                "images' errors: **{verdict}**"
            ).format(
                probe=_(odd_view.PROBES[name]),
                error=error,
                share=above,
                verdict=_("passed as normal") if error < threshold else _("flagged as odd"),
            )
        )
    st.markdown(
        _(
            "**Odd is not the same as hard to rebuild.** A detector that scores by "
            "reconstruction error flags what its model rebuilds badly, not what is unlike its "
            "training images: an image that is simple to copy can pass, however strange. Your "
            "run at this threshold, on three images that are in no dataset:"
        )
    )
    st.markdown("\n".join(lines))
    if passed:
        st.markdown(
            _("So {names} would get through this detector.").format(names=_(", ").join(passed))
        )
    else:
        st.markdown(
            _("This run flags all three at this threshold; raise it and see which passes first.")
        )
    st.markdown(
        _(
            "**The code size changes what gets through.** In Tonnaer's measurements on MNIST a "
            "VAE with a 32-D code found the left-out digit less well than one with a 2-D code "
            "for 9 of the 10 digits: with room to spare, it rebuilds digits it never saw. "
            "Section 4 measures the same with the lab's VAEs. Your runs with the same odd ones:"
        )
    )
    code_size_ui(run, found)


def code_size_ui(run, found) -> None:
    """The student's finished runs that left out the same labels, with their areas: the
    code-size contrast, in their own numbers."""
    rows = []
    for other in odd_runs(found.name):
        if other.settings["train"].get("odd") != run.settings["train"].get("odd"):
            continue
        if other.status != "finished":
            continue
        try:
            area = scored_run(other, found.name).auc
            size = resources.run_model(other).code_size  # Older runs' metrics lack it.
        except resources.NotServable:
            continue
        rows.append(
            {
                _("run"): other.id,
                _("variant"): words.title(other.variant),
                _("code size"): size,
                _("area under the ROC curve"): round(area, 3),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, placeholder=words.MISSING)
    sizes = {row[_("code size")] for row in rows}
    if len(sizes) < 2:
        st.caption(
            _(
                "Train the same odd ones with a code size far from this one (2 against 128, "
                "say) to see what it does here."
            )
        )
        return
    best = max(rows, key=lambda row: row[_("area under the ROC curve")])
    st.caption(
        _("Best so far: run {id}, code size {size}, area {auc:.3f}.").format(
            id=best[_("run")], size=best[_("code size")], auc=best[_("area under the ROC curve")]
        )
    )


def scored_run(run, dataset: str) -> odd_view.Scored:
    scores = odd_view.scores_of(run, dataset)
    return odd_view.Scored(scores, resources.test_set(dataset).y_test, run.settings["train"]["odd"])


def results_ui(run, found) -> None:
    st.subheader(_("2. How well it finds them"))
    labels = resources.test_set(found.name).y_test
    if (
        np.isin(labels, run.settings["train"]["odd"]).all()
        or not np.isin(labels, run.settings["train"]["odd"]).any()
    ):
        st.info(_("Its test images are all normal or all odd: there is nothing to tell apart."))
        return
    try:
        scored = scored_run(run, found.name)
    except resources.NotServable:
        st.warning(
            _(
                "This run has no model the lab can serve; continue it on the Train page for one "
                "more epoch to make one."
            )
        )
        return
    odd_names = names_of(scored.odd, found)
    st.markdown(
        _(
            "Every test image is scored by how badly the run reconstructs it. The area under "
            "the ROC curve is **{auc:.3f}**: the chance that a random odd image ({odd}) scores "
            "above a random normal one (1 is perfect, 0.5 a coin). Mean error: normal "
            "{normal:.4f}, odd {odd_error:.4f}."
        ).format(
            auc=scored.auc,
            odd=odd_names,
            normal=float(scored.normal_scores.mean()),
            odd_error=float(scored.odd_scores.mean()),
        )
    )
    threshold = odd_view.threshold_ui(scored, run.id)
    st.markdown(odd_view.verdict_text(scored, threshold))
    left, right = st.columns(2)
    with left:
        st.markdown(_("**Errors of the normal and the odd test images**"))
        st.altair_chart(odd_view.histogram_chart(scored, threshold), width="stretch")
    with right:
        st.markdown(_("**ROC curve** (area {auc:.3f}; dashed: a coin)").format(auc=scored.auc))
        st.altair_chart(odd_view.roc_chart(scored, threshold), width="stretch")
    names = [display(found, name) for name in found.labels]  # Image captions read Markdown.
    odd_view.groups_ui(scored, threshold, names, found.name)
    odd_view.extremes_ui(scored, names, found.name)
    traps_ui(run, scored, threshold, found)


def run_name(run, found) -> str:
    """A run in the run box, by what does not change while it trains (the box kept showing a
    finished run's first label, "queued · 0 ep", when its status was part of it)."""
    # Translators: an odd-one-out run in the run box: "Run 3 · Vanilla · Dec 3 19:06 · odd: 0".
    return _("Run {id} · {variant} · {when} · odd: {odd}").format(
        id=run.id,
        variant=words.title(run.variant),
        when=moment(run.created_at),
        odd=names_of(run.settings["train"]["odd"], found, markdown=False),  # A select box.
    )


def dataset_choice(opened) -> data.Dataset:
    """The session's dataset, or one of the student's uploads with labelled folders (two
    classes at least: one normal, one odd)."""
    me = identity.student()
    names = [session.current_dataset()]
    if opened is not None and me is not None:
        room = opened.member(me.id)[0]
        names += [
            data.own_name(row.id)
            for owner in lab_runs.owners(me.id, room)
            for row in opened.datasets(owner)
            if len(row.classes) >= 2
        ]
    if len(names) == 1:
        return data.get(names[0])
    chosen = st.selectbox(
        _("Images"),
        names,
        format_func=lambda name: display(data.get(name), data.get(name).title, markdown=False),
        key="odd_dataset",
        help=_("The sidebar's dataset, or one of your uploads with labelled folders."),
    )
    return data.get(chosen)


def main() -> None:
    st.title(_("Odd one out"))
    opened = services.store()
    found = dataset_choice(opened)
    st.markdown(
        _(
            "Autoencoders are used to find what does not belong: train one on **normal** images "
            "only, and it rebuilds them well and the rest badly, so the worst-rebuilt images "
            "are flagged. Here the normal images are {dataset} with some classes left out; the "
            "left-out ones are the odd ones to find among the test images. It works often, and "
            "fails in ways worth knowing."
        ).format(dataset=display(found, found.title))
    )
    engine = services.engine()
    lesson = identity.lesson()
    if opened is None:
        st.caption(_(":material/cloud_off: Training is off while the run store is unavailable."))
    else:
        if notice := st.session_state.pop(actions.TRAIN_NOTICE, None):
            st.warning(notice, icon=":material/cloud_off:")
        racer = setup_ui(lesson, found)
        if racer is not None:
            if engine is None or engine.error:
                st.warning(_("Training is off: the training cluster cannot be reached."))
            else:
                ids = actions.start(identity.ensure_student(), [racer], dataset=found.name)
                if ids:
                    st.session_state[SHOWN] = st.session_state[PICK] = ids[0]
                    st.rerun()
        runs = {run.id: run for run in odd_runs(found.name)}
        if not runs:
            st.info(
                _("Your odd-one-out runs on {dataset} appear here.").format(
                    dataset=display(found, found.title)
                ),
                icon=":material/search:",
            )
        else:
            shown = st.session_state.get(SHOWN)
            if st.session_state.get(PICK) not in runs:
                st.session_state[PICK] = shown if shown in runs else next(iter(runs))
            st.divider()
            shown = st.selectbox(
                _("Your run"),
                list(runs),
                format_func=lambda key: run_name(runs[key], found),
                key=PICK,
            )
            run = runs[shown]
            if run.active:
                watch(run.id)
            elif run.epochs_done == 0:
                st.info(_("This run ended before its first epoch: it has no model to score."))
            else:
                if run.status != "finished":  # Stopped, interrupted: scored as far as it got.
                    status_ui(run)
                results_ui(run, found)
    odd_view.table_ui()


ensure_navigation()
services.guarded(
    main,
    _(
        "Your runs cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
