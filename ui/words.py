"""Short texts the pages share: a variant's title, a run's one-line label, a model's metrics
in one line, a count with its noun, headlines computed from measurements, and user text made
safe for Markdown."""

from __future__ import annotations

import time

from core.ml import variants


def title(name: str) -> str:
    return variants.get(name).title


def run_label(run) -> str:
    """A readable one-line name for a run: what it is and how good, then when."""
    parts = [f"Run {run.id}"]
    if run.status != "finished":
        parts.append(run.status)
    elif run.metrics:
        parts.append(metric_line(run.metrics).split(" · ")[0])
    parts.append(f"{run.epochs_done} ep")
    model = run.settings.get("model", {})
    for key, short in (("code_size", "code"), ("beta", "β"), ("l1", "λ"), ("contraction", "λ")):
        if key in model:
            parts.append(f"{short} {model[key]:g}")
            break
    parts.append(time.strftime("%d %b %H:%M", time.localtime(run.created_at)))
    return " · ".join(parts)


def count(number: int, noun: str, plural: str | None = None) -> str:
    """A number with its noun in the right form: "1 epoch", "5 epochs", "1,000 images"."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


# "-ELBO" with a hyphen broke after the hyphen ("Test set: -" at a line's end, "ELBO 164.2"
# on the next): a true minus sign joined to its word by U+2060 WORD JOINER cannot break.
NEGATIVE_ELBO = "\u2212\u2060ELBO"


def metric_line(metrics: dict) -> str:
    """The card's key figures in one short line; BCE with how far it is above the floor that
    the images' own grey pixels set (0.242 nats on Fashion-MNIST, 0.058 on MNIST)."""
    parts = []
    if "negative_elbo" in metrics:
        parts.append(f"{NEGATIVE_ELBO} {metrics['negative_elbo']:.1f} nats")
    if "bce" in metrics:
        floor = metrics.get("bce_floor")
        above = f" (floor {floor:.3f} + {metrics['bce'] - floor:.4f})" if floor else ""
        parts.append(f"BCE {metrics['bce']:.4f}{above}")
    if "mse" in metrics:
        parts.append(f"MSE {metrics['mse']:.4f}")
    if "psnr_db" in metrics:
        parts.append(f"PSNR {metrics['psnr_db']:.1f} dB")
    return " · ".join(parts)


def sparse_headline(penalised: list[float], plain: float, noun: str = "digit") -> str:
    """The sparse-codes headline from the measured shares of code values near zero: of the
    models with a sparsity penalty (`penalised`) and of the one without (`plain`). "Most"
    only when more than half are off; a penalty that switches off no more units than none
    is said so."""
    low, high = min(penalised), max(penalised)
    share = f"{low:.0%}" if f"{low:.0%}" == f"{high:.0%}" else f"{low:.0%} to {high:.0%}"
    if high <= plain:
        return (
            f"Sparse codes: no more units off with the penalty ({share}) than without ({plain:.0%})"
        )
    amount = f"most units ({share})" if low > 0.5 else f"{share} of units"
    return f"Sparse codes: {amount} off for a {noun}, against {plain:.0%} without the penalty"


def plain(text: str) -> str:
    """User text for st.markdown, shown as typed: Markdown, HTML and Streamlit's `:colour[]`
    and `:material/...:` directives are all escaped."""
    import re

    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])", r"\\\1", text)


# A run without a served model (core.ml.served): trained before runs stored one, or its export
# failed. Continuing it writes one at the end of the session.
NOT_SERVABLE = (
    "This run's model was saved in an older form the pages cannot show. Continue it (one more "
    "epoch is enough) or train it again to use it here."
)

# What a table cell without a value shows (a racer with no BCE, PCA's parameters): Streamlit's
# own placeholder is the word "None", which reads as a measurement. Every table passes it.
MISSING = "—"
