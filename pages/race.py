"""Race: two to four autoencoders trained on the same images with the same seed, side by side.

Either different variants, or one variant with one setting changed (code size 2 / 8 / 32, the
VAE's beta, the sparse lambda, the noise level). Each racer is an ordinary run of the store,
trained by the engine (in parallel where there are workers), usable on every page afterwards.
Their own losses differ in kind (BCE per pixel, nats per image, MSE), so the race is run on
one measure they share: the reconstruction MSE of the same held-out images after every epoch.
"""

from __future__ import annotations

import time

import altair as alt
import pandas as pd
import streamlit as st

from core.lab.runs import MOST_RACERS
from core.ml import choices
from core.store import StoreError
from ui import actions, identity, images, resources, services, session, sidebar, words
from ui.boot import ensure_navigation

SHOWN = "race_shown"  # The race on view: its id (its first run's).
PICK = "race_pick"  # The race box's own key.
MODES = ("Variants", "One setting")
# Values a setting race starts from: small, middle and large, where the variant has them.
START_VALUES = {
    "code_size": (2, 8, 32),
    "beta": (0.5, 1.0, 4.0),
    "l1": (0.0, 1e-4, 1e-3),
    "rho": (0.02, 0.05, 0.2),
    "contraction": (0.0, 5e-4, 5e-3),
    "noise_level": (0.2, 0.5, 0.8),
    "learning_rate": (1e-3, 1e-2, 1e-1),
    "batch_size": (32, 128, 512),
}
# Streamlit's named text colours (for the racers' lines above the chart) and the chart's
# matching hues, so a racer's dot and its curve agree.
COLOURS = [("violet", "#803df5"), ("orange", "#ff8700"), ("blue", "#1c83e1"), ("green", "#21c354")]


def racer_labels(runs) -> list[str]:
    """A short name per racer: its variant when they differ, and what else differs."""
    values = [choices.values_of(run.settings, run.variant) for run in runs]
    differ = [
        key
        for key in dict.fromkeys(key for found in values for key in found)
        if len({repr(found.get(key)) for found in values}) > 1
    ]
    several = len({run.variant for run in runs}) > 1
    labels = []
    for run, found in zip(runs, values, strict=True):
        parts = [words.title(run.variant)] if several else []
        for key in differ:
            if key in found and not (several and key not in ("code_size",)):
                item = choices.setting(run.variant, key)
                parts.append(f"{item.label.split(' ')[0].lower()} {item.show(found[key])}")
        labels.append(" · ".join(parts) or words.title(run.variant))
    # Two racers may still read the same: number them.
    return [
        f"{index + 1}. {label}" if labels.count(label) > 1 else label
        for index, label in enumerate(labels)
    ]


def default_race_text() -> str:
    """What the default race showed when the lab measured it (core.ml.choices.DEFAULT_RACE),
    so a learner knows what to look for and why deep is not first this early."""
    race, measured = choices.DEFAULT_RACE, choices.DEFAULT_RACE_MSE
    ranked = sorted(measured, key=measured.get)
    figures = ", ".join(f"{words.title(name)} {measured[name]:.4f}" for name in ranked)
    shipped = [(name, resources.card(name)) for name in ("deep", "vanilla")]
    longer = "; ".join(
        f"{words.title(name)} {card['metrics']['mse']:.4f} after "
        f"{words.count(card['training']['epochs'], 'epoch')}"
        for name, card in shipped
        if card
    )
    return (
        f"What the default race shows (measured on MNIST's held-out digits after "
        f"{words.count(race['epochs'], 'epoch')} of {race['subset']:,} images): {figures} MSE "
        "per pixel. Any nonlinear model soon beats the linear one, whose best is PCA's; the "
        "deep model has more weights to fit and overtakes vanilla only with longer training "
        f"(the pretrained models on {session.dataset().title}: {longer})."
    )


def setup_ui(lesson) -> list[tuple[str, dict]] | None:
    """The race's form; returns the racers (variant, values) when it is submitted."""
    offered = list(lesson.setup.variants)
    mode = st.segmented_control("Race", MODES, default=MODES[0], key="race_mode", required=True)
    name = sidebar.current_variant()
    with st.form("race_form"):
        if mode == MODES[0]:
            chosen = st.multiselect(
                "Racers (two to four variants)",
                offered,
                default=[item for item in choices.DEFAULT_RACE["racers"] if item in offered],
                format_func=words.title,
                max_selections=MOST_RACERS,
                key="race_variants",
            )
            racers = [(variant, {}) for variant in chosen]
        else:
            # The variant's own settings first (code size, beta, lambda, noise), then the
            # training ones a race can vary.
            candidates = [
                item
                for item in (*choices.model_settings(name), *choices.TRAINING)
                if item.name not in ("epochs", "subset") and item.numeric
            ]
            item = st.selectbox(
                f"Setting of {words.title(name)} to race (change the variant in the sidebar)",
                candidates,
                format_func=lambda found: found.label,
                key=f"race_setting_{name}",
            )
            start = [value for value in START_VALUES.get(item.name, ()) if value in item.choices]
            picked = st.multiselect(
                f"{item.label}: two to four values",
                item.choices,
                default=start or list(item.choices[:2]),
                format_func=item.show,
                max_selections=MOST_RACERS,
                key=f"race_values_{name}_{item.name}",
            )
            racers = [(name, {item.name: value}) for value in sorted(picked)]
        epochs_item = choices.setting("vanilla", "epochs")
        subset_item = choices.setting("vanilla", "subset")
        epochs_choices = lesson.setup.choices("vanilla", "epochs")
        subset_choices = lesson.setup.choices("vanilla", "subset")
        left, right = st.columns(2)
        epochs = left.select_slider(
            epochs_item.label,
            epochs_choices,
            value=min(choices.DEFAULT_RACE["epochs"], epochs_choices[-1]),
            key="race_epochs",
        )
        subset = right.select_slider(
            subset_item.label,
            subset_choices,
            value=min(choices.DEFAULT_RACE["subset"], subset_choices[-1]),
            format_func=subset_item.show,
            key="race_subset",
        )
        if mode == MODES[0]:
            st.caption(default_race_text())
        pressed = st.form_submit_button("Start the race", type="primary", icon=":material/flag:")
    if not pressed:
        return None
    if not 2 <= len(racers) <= MOST_RACERS:
        st.warning("Choose two to four racers.", icon=":material/group_add:")
        return None
    return [(variant, {**values, "epochs": epochs, "subset": subset}) for variant, values in racers]


def start(racers, me) -> None:
    ids = actions.start(me, racers)
    if ids is not None:
        st.session_state[SHOWN] = ids[0]
        # The race box keeps what it showed (its own key) unless told: the new race shows at
        # once, instead of the old one while the new waited in the list (issue 27).
        st.session_state[PICK] = ids[0]
        st.rerun()


def progress_line(run) -> str:
    if run.status == "queued":
        return "waiting for a training slot"
    if run.status == "running":
        return f"epoch {min(run.epochs_done + 1, run.epochs_total)}/{run.epochs_total}"
    return f"{run.status}, {words.count(run.epochs_done, 'epoch')} in {run.seconds:.1f} s"


def chart(runs, labels, epochs_by_run) -> None:
    rows = [
        (label, epoch.epoch, epoch.logs["val_mse"])
        for run, label in zip(runs, labels, strict=True)
        for epoch in epochs_by_run[run.id]
        # The untrained network's error dwarfs the rest: the race starts after epoch 1.
        if "val_mse" in epoch.logs and epoch.epoch > 0
    ]
    if not rows:
        st.caption("The curves appear as the racers finish their first epochs.")
        return
    frame = pd.DataFrame(rows, columns=["racer", "epoch", "MSE"])
    # The title as text, not in the chart: Vega cuts a long title short on a phone.
    st.markdown("**Reconstruction MSE per pixel of held-out images, after each epoch**")
    scale = alt.Scale(domain=labels, range=[hue for _, hue in COLOURS[: len(labels)]])
    figure = (
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("MSE:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color("racer:N", scale=scale, legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["racer", "epoch", alt.Tooltip("MSE:Q", format=".4f")],
        )
        .properties(height=300)
    )
    st.altair_chart(figure, width="stretch")


def digits_ui(race_id, runs, labels, epochs_by_run, live: bool) -> None:
    """The same eight test images, and each racer's reconstructions after one epoch."""
    opened = services.live_store()
    done = sorted({epoch.epoch for run in runs for epoch in epochs_by_run[run.id]})
    if not done:
        return
    pick = done[-1]
    if not live and len(done) > 1:
        pick = st.select_slider("After epoch", done, value=done[-1], key=f"race_epoch_{race_id}")
    st.image(images.strip(resources.sample_digits(runs[0].dataset), size=56))
    st.caption(f"The same eight test images (top), and each racer's after epoch {pick}")
    for run, label in zip(runs, labels, strict=True):
        found = opened.samples(run.id, min(pick, run.epochs_done))
        if found is not None:
            st.image(images.strip(found, size=56), caption=label)


def results_ui(runs, labels) -> None:
    rows = []
    for run, label in zip(runs, labels, strict=True):
        found = run.metrics or {}
        rows.append(
            {
                "racer": label,
                "run": run.id,
                "code size": found.get("code_size"),
                "parameters": found.get("parameters"),
                "test MSE": found.get("mse"),
                "test BCE": found.get("bce"),
                "PSNR (dB)": found.get("psnr_db"),
                "training (s)": round(run.seconds, 1),
            }
        )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        placeholder=words.MISSING,
        column_config={
            "run": st.column_config.NumberColumn(format="%d"),
            "parameters": st.column_config.NumberColumn(format="localized"),
            "test MSE": st.column_config.NumberColumn(format="%.4f"),
            "test BCE": st.column_config.NumberColumn(format="%.4f"),
            "PSNR (dB)": st.column_config.NumberColumn(format="%.1f"),
        },
    )
    floor = resources.bce_floor(runs[0].dataset)
    st.caption(f"Test BCE cannot go below {floor:.3f} nats on these images (their pixel entropy).")
    sizes = {row["code size"] for row in rows if row["code size"]}
    if len(sizes) > 1 and len({run.variant for run in runs}) > 1:
        st.caption(
            ":material/balance: These racers have codes of different sizes: a bigger code "
            "makes reconstruction easier, so compare at equal code size before calling a "
            "variant better (race one setting, code size, to see how much it matters)."
        )


def race_view(race_id: int, live: bool) -> bool:
    """The race's curves, digits and results; returns whether a racer is still active."""
    me, opened = st.session_state.get(identity.STUDENT), services.live_store()
    runs = opened.races(me.id).get(race_id, []) if me is not None else []
    if not runs:
        st.info("This race is gone (its runs were deleted).", icon=":material/flag:")
        return False
    labels = racer_labels(runs)
    active = any(run.active for run in runs)
    if any(run.status == "queued" for run in runs) and any(run.status != "queued" for run in runs):
        st.caption(
            ":material/hourglass_top: The racers take turns: the training workers are busy, so "
            "a waiting racer starts when a slot frees. The race compares them epoch by epoch, "
            "not by the clock."
        )
    for run, label, (colour, _) in zip(runs, labels, COLOURS, strict=False):
        st.markdown(
            f":{colour}[:material/circle:] **{words.plain(label)}** · "
            f"run {run.id} · {progress_line(run)}"
        )
    epochs_by_run = {run.id: opened.epochs(run.id, with_samples=False) for run in runs}
    chart(runs, labels, epochs_by_run)
    digits_ui(race_id, runs, labels, epochs_by_run, live=active)
    if not active:
        st.subheader("Test metrics")
        results_ui(runs, labels)
        st.caption(
            "Each racer is one of your runs: pick it in the sidebar's Model list (with its "
            "variant) to draw with it or look inside it, or open it on the Train page."
        )
    return active


@st.fragment(run_every=1.0)
def live_race(race_id: int) -> None:
    """Redraws once a second while a racer trains; the whole page once they all have ended."""
    try:
        if not race_view(race_id, live=True):
            st.rerun()
    except StoreError as error:
        services.store_failed(error)
        st.warning("Lost the run store; retrying...", icon=":material/cloud_off:")


def main() -> None:
    st.title("Race autoencoders")
    found = session.dataset()
    st.markdown(
        "Train two to four autoencoders on **the same training images with the same seed** "
        f"({found.title}) and watch them side by side: different variants, or one variant with one "
        "setting changed. Their own losses are not comparable (nats, BCE, MSE), so they race "
        "on one measure: how well they rebuild the same held-out images, after every epoch."
    )
    me, opened, engine = identity.student(), services.store(), services.engine()
    if opened is None:
        st.caption(":material/cloud_off: Races are off while the run store is unavailable.")
        return
    lesson = identity.lesson()
    if notice := st.session_state.pop(actions.TRAIN_NOTICE, None):
        st.warning(notice, icon=":material/cloud_off:")
    racers = setup_ui(lesson)
    if racers is not None:
        if engine is None or engine.error:
            st.warning("Training is off: the training cluster cannot be reached.")
        else:
            start(racers, identity.ensure_student())  # A visitor's first race gives them a link.
    races = opened.races(me.id) if me is not None else {}
    # Only the races on the session's dataset: their images, floor and curves are its own.
    races = {
        key: runs for key, runs in races.items() if runs[0].dataset == session.current_dataset()
    }
    if not races:
        st.info(f"Your races on {found.title} appear here.", icon=":material/sports_score:")
        return
    shown = st.session_state.get(SHOWN)
    if shown not in races:
        shown = next(iter(races))
    st.divider()
    shown = st.selectbox(
        "Race",
        list(races),
        index=list(races).index(shown),
        format_func=lambda key: (
            f"Race {key}: "
            + " vs ".join(racer_labels(races[key]))
            + time.strftime(" · %d %b %H:%M", time.localtime(races[key][0].created_at))
        ),
        key=PICK,
    )
    st.session_state[SHOWN] = shown
    if any(run.active for run in races[shown]):
        live_race(shown)
    else:
        race_view(shown, live=False)


ensure_navigation()
services.guarded(
    main,
    "Your races cannot be reached right now; the pretrained models on the other pages work "
    "as usual.",
)
