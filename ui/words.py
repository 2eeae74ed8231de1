"""Short texts the pages share: a variant's title, a run's one-line label, a model's metrics
in one line, a count with its noun, headlines computed from measurements, and user text made
safe for Markdown."""

from __future__ import annotations

from core import i18n
from core.i18n import N_, _
from core.ml import data, variants


def title(name: str) -> str:
    """A variant's title in the reader's language (the registry marks it N_)."""
    return _(variants.get(name).title)


# A run's status as a reader sees it (core.store.schema.STATUSES; the stored value, in CSVs and
# the database, stays English).
STATUSES = {
    "queued": N_("queued"),
    "running": N_("running"),
    "finished": N_("finished"),
    "stopped": N_("stopped"),
    "diverged": N_("diverged"),
    "failed": N_("failed"),
    "interrupted": N_("interrupted"),
}


def status(value: str) -> str:
    """A run's status in the reader's language ("stopped" -> "已停止")."""
    found = STATUSES.get(value)
    return _(found) if found else value


def run_label(run) -> str:
    """A readable one-line name for a run: what it is and how good, then when. (Pages take
    the part before the first " · " as the run's short name.)"""
    # Translators: a run's short name in the model list, "Run 12"; the glossary's 任务 12.
    parts = [_("Run {id}").format(id=run.id)]
    if run.status != "finished":
        parts.append(status(run.status))
    elif run.metrics:
        parts.append(metric_line(run.metrics).split(" · ")[0])
    # Translators: how many epochs a run has trained, in a compact run label: "10 ep".
    parts.append(_("{epochs} ep").format(epochs=run.epochs_done))
    model = run.settings.get("model", {})
    for key, short in (("code_size", None), ("beta", "β"), ("l1", "λ"), ("contraction", "λ")):
        if key in model:
            if short is None:
                # Translators: a run's code size in a compact run label: "code 32".
                parts.append(_("code {size:g}").format(size=model[key]))
            else:
                parts.append(f"{short} {model[key]:g}")
            break
    parts.append(i18n.moment(run.created_at))
    return " · ".join(parts)


def count(number: int, noun: str, plural: str | None = None) -> str:
    """A number with its noun in the right form: "1 epoch", "5 epochs", "1,000 images".
    English only, and being retired: new code writes `ngettext("{n} epoch", "{n} epochs", n)`."""
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


# "-ELBO" with a hyphen broke after the hyphen ("Test set: -" at a line's end, "ELBO 164.2"
# on the next): a true minus sign joined to its word by U+2060 WORD JOINER cannot break.
NEGATIVE_ELBO = "\u2212\u2060ELBO"


def metric_line(metrics: dict) -> str:
    """The card's key figures in one short line; BCE with how far it is above the floor that
    the images' own grey pixels set (0.242 nats on Fashion-MNIST, 0.058 on MNIST)."""
    parts = []
    if "class_named_accuracy" in metrics:  # A conditional VAE's: a bound on -log p(x | y).
        parts.append(
            # Translators: "−ELBO 127.7 nats given the class": a conditional VAE's test figure
            _("{elbo} {value:.1f} nats given the class").format(
                elbo=NEGATIVE_ELBO, value=metrics["negative_elbo"]
            )
        )
    elif "negative_elbo" in metrics:
        parts.append(f"{NEGATIVE_ELBO} {metrics['negative_elbo']:.1f} nats")
    if "bce" in metrics:
        floor = metrics.get("bce_floor")
        if floor:
            # Translators: a test BCE and how far it is above the lowest BCE the images allow
            # (their pixels' own entropy): "BCE 0.0820 (floor 0.058 + 0.0240)".
            parts.append(
                _("BCE {bce:.4f} (floor {floor:.3f} + {above:.4f})").format(
                    bce=metrics["bce"], floor=floor, above=metrics["bce"] - floor
                )
            )
        else:
            parts.append(f"BCE {metrics['bce']:.4f}")
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
    if f"{low:.0%}" == f"{high:.0%}":
        share = f"{low:.0%}"
    else:
        # Translators: a range of shares, "50% to 90%".
        share = _("{low:.0%} to {high:.0%}").format(low=low, high=high)
    if high <= plain:
        return _(
            "Sparse codes: no more units off with the penalty ({share}) than without ({plain:.0%})"
        ).format(share=share, plain=plain)
    noun = _(noun)  # "digit", "garment": core.ml.data's Dataset.noun, marked N_() there.
    if low > 0.5:
        # Translators: Inside's sparse-codes header; {noun} is "digit" or "garment".
        return _(
            "Sparse codes: most units ({share}) off for a {noun}, against {plain:.0%} without "
            "the penalty"
        ).format(share=share, noun=noun, plain=plain)
    # Translators: Inside's sparse-codes header; {noun} is "digit" or "garment".
    return _(
        "Sparse codes: {share} of units off for a {noun}, against {plain:.0%} without the penalty"
    ).format(share=share, noun=noun, plain=plain)


def plain(text: str) -> str:
    """User text for st.markdown, shown as typed: Markdown, HTML and Streamlit's `:colour[]`
    and `:material/...:` directives are all escaped."""
    from core.lab.classroom.setup import markdown_plain

    return markdown_plain(text)


# A run without a served model (core.ml.served): trained before runs stored one, or its export
# failed. Continuing it writes one at the end of the session. Shown with _(NOT_SERVABLE).
NOT_SERVABLE = N_(
    "This run's model was saved in an older form the pages cannot show. Continue it (one more "
    "epoch is enough) or train it again to use it here."
)

# What a table cell without a value shows (a racer with no BCE, PCA's parameters): Streamlit's
# own placeholder is the word "None", which reads as a measurement. Every table passes it.
MISSING = "—"


def of_dataset(name: str, text: str, markdown: bool = True) -> str:
    """A dataset's title or one of its class names as a page shows it: translated when it is
    one of the lab's, as typed when an upload's (its uploader's words, or its folders'):
    Markdown escaped where it goes into Markdown, plain in a select box or a table."""
    if data.own_id(name) is None:
        return _(text)
    return plain(text) if markdown else text


def dataset_title(name: str, markdown: bool = True) -> str:
    """`of_dataset` for a dataset's title (a deleted upload's placeholder included)."""
    return of_dataset(name, data.get(name).title, markdown)


def sentences(first: str, second: str) -> str:
    """Two sentences one after the other, as the reader's language joins them."""
    if not second:
        return first
    # Translators: two sentences one after the other (in Chinese, without a space).
    return _("{first} {second}").format(first=first, second=second)


def label_of(found: data.Dataset, label, markdown: bool = True) -> str:
    """Class `label` of dataset `found` as `of_dataset` shows it, or "" where it has none (an
    upload without folders labels its images -1)."""
    label = int(label)
    if not 0 <= label < len(found.labels):
        return ""
    return of_dataset(found.name, found.labels[label], markdown)
