"""Train: pick a variant's hyperparameters, watch it learn live, stop it, keep the result."""

from __future__ import annotations

import tempfile
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core import noise, variants
from core.jobs import TrainingJob, prewarm, shared_slots
from core.training import TrainConfig
from ui import images, state
from ui.boot import ensure_navigation

JOB = "training_job"
SERIES = {
    "loss": "training",
    "val_loss": "validation",
    "reconstruction_loss": "training",
    "val_reconstruction_loss": "validation",
    "kl_loss": "training",
    "val_kl_loss": "validation",
}
LEARNING_RATES = [1e-4, 3e-4, 1e-3, 2e-3, 5e-3, 1e-2, 3e-2, 1e-1, 1.0, 10.0]
SUBSETS = [100, 1000, 2000, 5000, 10000, 20000, 55000]
# Starting rates for a short live run: the shipped recipes use gentler rates over 50-100
# epochs, but in a classroom the digits should be recognisable within seconds. Measured for
# vanilla on 10,000 images, batch 64: test BCE 0.134 after 3 epochs at 1e-2 (2 s) against
# 0.199 at 2e-3 with batch 128.
LIVE_LEARNING_RATE = {"vae": 2e-3, "conv": 5e-3, "denoising": 5e-3}


def hyperparameters_ui(name: str) -> tuple[TrainConfig, object]:
    """The settings that matter for this variant; returns the training and model configs."""
    defaults = variants.make_config(name)
    heavy = name in ("conv", "denoising")  # Convolutions cost ~10x more per image here.
    limit = state.limits()
    subsets = [n for n in SUBSETS if n < limit.max_subset] + [limit.max_subset]
    left = right = st.container()  # One column: the settings sit beside the live view.
    with left:
        if limit.max_epochs > 1:
            epochs = st.slider(
                "Epochs",
                1,
                limit.max_epochs,
                min(3 if heavy else 5, limit.max_epochs),
                key=f"epochs_{name}",
            )
        else:
            epochs = 1
            st.caption("Epochs: 1 (the most this server allows)")
        batch_size = st.select_slider(
            "Batch size", [16, 32, 64, 128, 256, 512], value=64, key=f"batch_{name}"
        )
        learning_rate = st.select_slider(
            "Learning rate",
            LEARNING_RATES,
            key=f"lr_{name}",
            value=LIVE_LEARNING_RATE.get(name, 1e-2),
            help="Adam's peak rate; it decays along a cosine to 1% by the last step. "
            "Try 10 to see what a rate far too high does.",
        )
        usual = 5000 if heavy else 10000
        if len(subsets) > 1:
            subset = st.select_slider(
                "Training images",
                subsets,
                value=max((n for n in subsets if n <= usual), default=subsets[0]),
                key=f"subset_{name}",
                help="A random subset of the 55,000 training images (5,000 more are held out "
                "for the validation curve).",
            )
        else:
            subset = subsets[0]
            st.caption(f"Training images: {subset} (the most this server allows)")
    overrides = {}
    with right:
        if hasattr(defaults, "code_size"):
            overrides["code_size"] = st.select_slider(
                "Code size",
                [2, 4, 8, 16, 32, 64, 128, 256],
                value=defaults.code_size,
                key=f"code_{name}",
                help="Numbers in the bottleneck, the code.",
            )
        if name == "denoising":
            kind = st.selectbox(
                "Noise kind",
                noise.KINDS,
                key="train_noise_kind",
                format_func=lambda k: k.replace("_", " "),
            )
            level = st.slider("Noise level", 0.0, 1.0, 0.5, 0.05, key="train_noise_level")
            overrides.update(noise_kinds=[kind], noise_level=level, min_noise_level=level)
        if name == "sparse_kl":
            overrides["rho"] = st.slider(
                "Target activation ρ", 0.01, 0.5, defaults.rho, 0.01, key="train_rho"
            )
            overrides["beta"] = st.select_slider(
                "Sparsity weight β",
                [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
                value=defaults.beta,
                key="train_beta",
            )
        if name in ("sparse_l1",):
            overrides["l1"] = st.select_slider(
                "L1 weight λ",
                [0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3],
                value=defaults.l1,
                key="train_l1",
            )
        if name == "contractive":
            overrides["contraction"] = st.select_slider(
                "Contraction weight λ",
                [0.0, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2],
                value=defaults.contraction,
                key="train_contraction",
            )
        if name == "vae":
            overrides["beta"] = st.select_slider(
                "KL weight β",
                [0.0, 0.1, 0.5, 1.0, 2.0, 4.0, 10.0],
                value=defaults.beta,
                key="train_vae_beta",
                help="1 is the true ELBO; larger values give a beta-VAE.",
            )
    config = TrainConfig(
        epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, subset=subset, seed=0
    )
    return config, variants.make_config(name, **overrides)


def loss_chart(curve: list[tuple[float, str, float]], name: str) -> None:
    """Training (running, per batch) and validation (per epoch) curves; VAE parts apart."""
    if not curve:
        st.caption("The loss curve appears after the first batches.")
        return
    frame = pd.DataFrame(curve, columns=["epoch", "key", "value"])
    frame["series"] = frame["key"].map(SERIES)
    groups = (
        [
            ("Reconstruction (nats)", ("reconstruction_loss", "val_reconstruction_loss")),
            ("KL divergence (nats)", ("kl_loss", "val_kl_loss")),
        ]
        if name == "vae"
        else [("Loss", ("loss", "val_loss"))]
    )
    for column, (label, keys) in zip(st.columns(len(groups)), groups, strict=True):
        part = frame[frame["key"].isin(keys)]
        chart = (
            alt.Chart(part, title=label)
            .mark_line(point=alt.OverlayMarkDef(size=20))
            .encode(
                x=alt.X("epoch:Q", title="epoch"),
                y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
                color=alt.Color(
                    "series:N", title=None, scale=alt.Scale(domain=["training", "validation"])
                ),
            )
            .properties(height=260)
        )
        column.altair_chart(chart, width="stretch")


def samples_ui(originals, reconstructions, epoch: int) -> None:
    if reconstructions is None:
        st.caption("Eight fixed test digits, the same on every run")
    else:
        st.caption(f"Eight fixed test digits (top) and their reconstructions after epoch {epoch}")
    st.image(images.strip(originals, size=64))
    if reconstructions is not None:
        st.image(images.strip(reconstructions, size=64))


def progress_ui(job: TrainingJob) -> None:
    """Progress bar, loss chart and sample reconstructions of a job, from one snapshot."""
    snap = job.snapshot()
    progress = snap.progress
    if progress is None:
        st.progress(0.0, text="Starting the training process...")
    else:
        left = progress.seconds_left
        if not job.running:
            timing = f"{progress.elapsed:.1f} s in all"  # A stopped run has no time left.
        elif left is None:
            timing = "estimating time"
        else:
            timing = f"about {left:.0f} s left"
        text = (
            f"Epoch {min(progress.epoch + 1, progress.epochs)}/{progress.epochs} · "
            f"batch {progress.batch}/{progress.batches} · {timing}"
        )
        st.progress(progress.fraction, text=text)
    loss_chart(snap.curve, job.name)
    samples_ui(job.sample_images, snap.samples, snap.samples_epoch)


@st.fragment(run_every=1.0)
def live_ui() -> None:
    """Redraws once a second while the job runs; hands over to the full page when it ends.

    Once a second is what the eye needs from a loss curve, and each redraw costs the server
    a chart and two image strips for every student who is watching one.
    """
    job: TrainingJob | None = st.session_state.get(JOB)
    if job is None:
        return
    if not job.running:
        keep_result(job)
        st.rerun()  # The whole page, sidebar included, now shows the finished run.
    snap = job.snapshot()
    if snap.state == "queued":
        queue_ui(job, snap)
        return
    if st.button("Stop", icon=":material/stop:", key="stop_training"):
        job.stop()
        st.toast("Stopping after the current batch...")
    progress_ui(job)


def queue_ui(job: TrainingJob, snap) -> None:
    """A waiting student sees their place and can leave the queue."""
    busy = job.slots.running
    ahead = (snap.queue_position or 1) - 1
    st.info(
        f"Waiting for a free training slot: {busy} training now, "
        + (f"{ahead} ahead of you. " if ahead else "you are next. ")
        + "Training starts by itself; this page updates every second.",
        icon=":material/hourglass_top:",
    )
    if st.button("Leave the queue", icon=":material/cancel:", key="cancel_training"):
        job.stop()
        st.toast("Left the queue.")


def weights_download_ui(name: str, result) -> None:
    """Offer the trained weights as a Keras `.weights.h5` file."""
    cache_key = f"weights_{name}_{id(result)}"
    if cache_key not in st.session_state:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{name}.weights.h5"
            result.model.save_weights(path)
            st.session_state[cache_key] = path.read_bytes()
    st.download_button(
        "Download the weights",
        st.session_state[cache_key],
        file_name=f"{name}.weights.h5",
        mime="application/octet-stream",
        icon=":material/download:",
        key=f"download_{name}",
        help="Keras weights for this variant's architecture: build it with core.variants.build "
        "and call load_weights.",
    )


def finished_ui(job: TrainingJob) -> None:
    """The outcome of the last run: message, curves, samples and the download."""
    snap = job.snapshot()
    result = job.result
    if snap.state == "failed":
        st.error(f"Training failed: {snap.error}. Try other settings.", icon=":material/error:")
        return
    if snap.state in ("cancelled", "abandoned"):
        st.info("You left the queue before training started.", icon=":material/cancel:")
        return
    if snap.state == "diverged":
        st.error(
            "The loss exploded: it became infinite or NaN (not a number), or grew far above "
            "where it started. The learning rate is too high for this model. Training stopped "
            "and the weights of the last good epoch were kept. Try a learning rate of 0.01 or "
            "lower.",
            icon=":material/warning:",
        )
    elif snap.state == "stopped":
        st.info(
            f"Stopped after {result.epochs_completed} epoch(s); the weights reached so far "
            "are kept.",
            icon=":material/stop_circle:",
        )
    else:
        st.success(
            f"Trained {result.epochs_completed} epoch(s) in {result.seconds:.1f} s "
            f"({result.samples_per_second:,.0f} images/s). This is now your model for "
            f"{state.title(job.name)} on the other pages (choose '{state.SESSION}' in the "
            "sidebar).",
            icon=":material/check_circle:",
        )
    progress_ui(job)
    if result is not None:
        weights_download_ui(job.name, result)


def keep_result(job: TrainingJob) -> None:
    """Make a finished run this session's model for its variant (if it trained anything)."""
    if job.result is not None and job.result.epochs_completed > 0:
        state.store_session_result(job.name, job.result)


def start(name: str, config: TrainConfig, model_config) -> None:
    st.session_state[JOB] = TrainingJob(
        name,
        config,
        model_config,
        state.sample_digits(),
        slots=shared_slots(state.limits().max_trainings),
        owner_alive=state.session_alive(),  # A closed tab frees its slot and memory.
    ).start()
    st.rerun()  # Redraw with the Train button disabled and the live view running.


def main() -> None:
    name = state.current_variant()
    st.title("Train an autoencoder")
    st.markdown(
        f"Train a fresh **{state.title(name)}** autoencoder on MNIST and watch it learn: the "
        "loss curve, and eight test digits as the model sees them after each epoch. Change "
        "the variant in the sidebar."
    )
    job: TrainingJob | None = st.session_state.get(JOB)
    busy = job is not None and job.running
    if not busy:
        prewarm()  # Imports TensorFlow in a spare process now, not after Train is pressed.
    settings, results = st.columns([1, 1.3], gap="large")
    with settings, st.form("hyperparameters", border=True):
        config, model_config = hyperparameters_ui(name)
        pressed = st.form_submit_button(
            "Train", type="primary", icon=":material/play_arrow:", disabled=busy
        )
    if pressed and not busy:
        start(name, config, model_config)
    with results:
        if job is None:
            st.info(
                "Choose the settings and press Train. The loss curve and the eight digits "
                "below appear here as the model learns.",
                icon=":material/model_training:",
            )
            samples_ui(state.sample_digits(), None, 0)
        elif busy:
            if job.name != name:
                st.caption(f"Training {state.title(job.name)} (started before you switched).")
            live_ui()
        else:
            keep_result(job)
            finished_ui(job)


ensure_navigation()
main()
