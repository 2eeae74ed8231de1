"""Race: two to four autoencoders trained on the same images with the same seed, side by side.

Either different variants, or one variant with one setting changed (code size 2 / 8 / 32, the
VAE's beta, the sparse lambda, the noise level). Each racer is an ordinary run of the store,
trained by the engine (in parallel where there are workers), usable on every page afterwards.
Their own losses differ in kind (BCE per pixel, nats per image, MSE), so the race is run on
one measure they share: the reconstruction MSE of the same held-out images after every epoch.
"""

from __future__ import annotations

import streamlit as st

from core import i18n
from core.i18n import N_, _, ngettext
from core.lab.runs import MOST_RACERS
from core.ml import choices
from core.store import StoreError
from ui import actions, identity, resources, services, session, sidebar, words
from ui.boot import ensure_navigation
from ui.race_view import COLOURS, chart, digits_ui, results_ui

SHOWN = "race_shown"  # The race on view: its id (its first run's).
PICK = "race_pick"  # The race box's own key.
MODES = (N_("Variants"), N_("One setting"))  # Values stay English; shown through _().
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
# A racer's status once it has ended, as its line above the chart shows it.
STATUSES = {
    "finished": N_("finished"),
    "stopped": N_("stopped"),
    "diverged": N_("diverged"),
    "failed": N_("failed"),
    "interrupted": N_("interrupted"),
}


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
                parts.append(f"{short_label(item)} {item.show(found[key])}")
        labels.append(" · ".join(parts) or words.title(run.variant))
    # Two racers may still read the same: number them.
    return [
        f"{index + 1}. {label}" if labels.count(label) > 1 else label
        for index, label in enumerate(labels)
    ]


def short_label(item) -> str:
    """A setting's name in a racer's label: in English its label's first word ("code",
    "learning", "kl"); in a translation the whole translated label, whose first word is no
    name of its own."""
    shown = _(item.label)
    return item.label.split(" ")[0].lower() if shown == item.label else shown


def default_race_text() -> str:
    """What the default race showed when the lab measured it (core.ml.choices.DEFAULT_RACE),
    so a learner knows what to look for and why deep is not first this early."""
    race, measured = choices.DEFAULT_RACE, choices.DEFAULT_RACE_MSE
    ranked = sorted(measured, key=measured.get)
    # Translators: between the items of a list inside a sentence ("Vanilla 0.0128, Deep 0.0150")
    figures = _(", ").join(f"{words.title(name)} {measured[name]:.4f}" for name in ranked)
    shipped = [(name, resources.card(name)) for name in ("deep", "vanilla")]
    # Translators: between two shipped models' figures inside parentheses
    longer = _("; ").join(
        ngettext(
            "{variant} {mse:.4f} after {epochs:,} epoch",
            "{variant} {mse:.4f} after {epochs:,} epochs",
            card["training"]["epochs"],
        ).format(
            variant=words.title(name),
            mse=card["metrics"]["mse"],
            epochs=card["training"]["epochs"],
        )
        for name, card in shipped
        if card
    )
    return ngettext(
        "What the default race shows (measured on MNIST's held-out digits after {epochs:,} "
        "epoch of {images:,} images): {figures} MSE per pixel. Any nonlinear model soon beats "
        "the linear one, whose best is PCA's; the deep model has more weights to fit and "
        "overtakes vanilla only with longer training (the pretrained models on {dataset}: "
        "{longer}).",
        "What the default race shows (measured on MNIST's held-out digits after {epochs:,} "
        "epochs of {images:,} images): {figures} MSE per pixel. Any nonlinear model soon beats "
        "the linear one, whose best is PCA's; the deep model has more weights to fit and "
        "overtakes vanilla only with longer training (the pretrained models on {dataset}: "
        "{longer}).",
        race["epochs"],
    ).format(
        epochs=race["epochs"],
        images=race["subset"],
        figures=figures,
        dataset=_(session.dataset().title),
        longer=longer,
    )


def setup_ui(lesson) -> list[tuple[str, dict]] | None:
    """The race's form; returns the racers (variant, values) when it is submitted."""
    offered = list(lesson.setup.variants)
    mode = st.segmented_control(
        _("Race"),
        MODES,
        default=MODES[0],
        format_func=lambda value: _(value),
        key="race_mode",
        required=True,
    )
    name = sidebar.current_variant()
    with st.form("race_form"):
        if mode == MODES[0]:
            chosen = st.multiselect(
                _("Racers (two to four variants)"),
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
                _("Setting of {variant} to race (change the variant in the sidebar)").format(
                    variant=words.title(name)
                ),
                candidates,
                format_func=lambda found: _(found.label),
                key=f"race_setting_{name}",
            )
            start = [value for value in START_VALUES.get(item.name, ()) if value in item.choices]
            picked = st.multiselect(
                _("{setting}: two to four values").format(setting=_(item.label)),
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
        subset_choices, subset_shown = resources.subset_choices(
            lesson.setup.choices("vanilla", "subset")
        )
        start = choices.DEFAULT_RACE
        if (count := resources.training_images()) is not None:  # An upload: more epochs.
            start = choices.scaled_to(
                {**choices.defaults("vanilla"), **start}, count, epochs_choices[-1]
            )
            start["subset"] = subset_choices[-1]  # All of its few images.
        left, right = st.columns(2)
        epochs = left.select_slider(
            _(epochs_item.label),
            epochs_choices,
            value=min(start["epochs"], epochs_choices[-1]),
            key="race_epochs",
        )
        subset = right.select_slider(
            _(subset_item.label),
            subset_choices,
            value=min(start["subset"], subset_choices[-1]),
            format_func=subset_shown,
            key="race_subset",
        )
        if mode == MODES[0] and not session.on_upload():  # Measured on the lab's data.
            st.caption(default_race_text())
            st.caption(
                # Translators: the source text (docs/GLOSSARY.md, "Which chapter teaches what")
                _(
                    "Source text: chapter 15 “自编码器” (Autoencoders), section "
                    "“用不完整的线性自编码器执行 PCA” (Performing PCA with an undercomplete "
                    "linear autoencoder)"
                )
            )
        pressed = st.form_submit_button(_("Start the race"), type="primary", icon=":material/flag:")
    if not pressed:
        return None
    if not 2 <= len(racers) <= MOST_RACERS:
        st.warning(_("Choose two to four racers."), icon=":material/group_add:")
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
        return _("waiting for a training slot")
    if run.status == "running":
        return _("epoch {epoch}/{epochs}").format(
            epoch=min(run.epochs_done + 1, run.epochs_total), epochs=run.epochs_total
        )
    return ngettext(
        "{status}, {epochs:,} epoch in {seconds:.1f} s",
        "{status}, {epochs:,} epochs in {seconds:.1f} s",
        run.epochs_done,
    ).format(
        status=_(STATUSES.get(run.status, run.status)),
        epochs=run.epochs_done,
        seconds=run.seconds,
    )


def race_view(race_id: int, live: bool) -> bool:
    """The race's curves, digits and results; returns whether a racer is still active."""
    me, opened = st.session_state.get(identity.STUDENT), services.live_store()
    runs = opened.races(me.id).get(race_id, []) if me is not None else []
    if not runs:
        st.info(_("This race is gone (its runs were deleted)."), icon=":material/flag:")
        return False
    labels = racer_labels(runs)
    active = any(run.active for run in runs)
    if any(run.status == "queued" for run in runs) and any(run.status != "queued" for run in runs):
        st.caption(
            _(
                ":material/hourglass_top: The racers take turns: the training workers are busy, "
                "so a waiting racer starts when a slot frees. The race compares them epoch by "
                "epoch, not by the clock."
            )
        )
    for run, label, (colour, _hue) in zip(runs, labels, COLOURS, strict=False):
        st.markdown(
            # Translators: a racer's line above the race's chart: its coloured dot, its name,
            # its run's number, then "epoch 3/10" or "finished, 10 epochs in 12.3 s"
            _("{dot} **{racer}** · run {id} · {progress}").format(
                dot=f":{colour}[:material/circle:]",
                racer=words.plain(label),
                id=run.id,
                progress=progress_line(run),
            )
        )
    epochs_by_run = {run.id: opened.epochs(run.id, with_samples=False) for run in runs}
    chart(runs, labels, epochs_by_run)
    digits_ui(race_id, runs, labels, epochs_by_run, live=active)
    if not active:
        st.subheader(_("Test metrics"))
        results_ui(runs, labels)
        st.caption(
            _(
                "Each racer is one of your runs: pick it in the sidebar's Model list (with its "
                "variant) to draw with it or look inside it, or open it on the Train page."
            )
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
        st.warning(_("Lost the run store; retrying..."), icon=":material/cloud_off:")


def race_name(race_id: int, runs) -> str:
    """A race in the race box: its number, its racers, when it started."""
    # Translators: between the racers' names in the race box ("code 2 vs code 32")
    racers = _(" vs ").join(racer_labels(runs))
    shown = _("Race {id}: {racers}").format(id=race_id, racers=racers)
    return f"{shown} · {i18n.moment(runs[0].created_at)}"


def main() -> None:
    st.title(_("Race autoencoders"))
    found = session.dataset()
    st.markdown(
        _(
            "Train two to four autoencoders on **the same training images with the same seed** "
            "({dataset}) and watch them side by side: different variants, or one variant with "
            "one setting changed. Their own losses are not comparable (nats, BCE, MSE), so they "
            "race on one measure: how well they rebuild the same held-out images, after every "
            "epoch."
        ).format(dataset=words.dataset_title(found.name))
    )
    me, opened, engine = identity.student(), services.store(), services.engine()
    if opened is None:
        st.caption(_(":material/cloud_off: Races are off while the run store is unavailable."))
        return
    lesson = identity.lesson()
    if notice := st.session_state.pop(actions.TRAIN_NOTICE, None):
        st.warning(notice, icon=":material/cloud_off:")
    racers = setup_ui(lesson)
    if racers is not None:
        if engine is None or engine.error:
            st.warning(_("Training is off: the training cluster cannot be reached."))
        else:
            start(racers, identity.ensure_student())  # A visitor's first race gives them a link.
    races = opened.races(me.id) if me is not None else {}
    # Only the races on the session's dataset: their images, floor and curves are its own.
    races = {
        key: runs for key, runs in races.items() if runs[0].dataset == session.current_dataset()
    }
    if not races:
        st.info(
            _("Your races on {dataset} appear here.").format(
                dataset=words.dataset_title(found.name)
            ),
            icon=":material/sports_score:",
        )
        return
    shown = st.session_state.get(SHOWN)
    if shown not in races:
        shown = next(iter(races))
    st.divider()
    shown = st.selectbox(
        _("Race"),
        list(races),
        index=list(races).index(shown),
        format_func=lambda key: race_name(key, races[key]),
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
    # The page script runs anew for every script run: this is the reader's language.
    _(
        "Your races cannot be reached right now; the pretrained models on the other pages work "
        "as usual."
    ),
)
