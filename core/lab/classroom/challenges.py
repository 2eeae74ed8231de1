"""A class's challenges: what is ranked (a test metric), which runs may enter (variants,
bounds on settings), and the scoring of a finished run, which a training worker does."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.i18n import N_, _
from core.lab.classroom.setup import ClassError, clean_text, in_sentence, lesson_dataset, noise_name
from core.ml import choices, variants
from core.store import Run, Store

# name: (label, lower is better, variants it applies to or None for any); labels are shown
# with _().
METRICS = {
    "bce": (N_("Test BCE"), True, None),
    "mse": (N_("Test MSE"), True, None),
    "negative_elbo": (N_("Test −ELBO (nats)"), True, ("vae",)),
    "psnr_denoised": (N_("PSNR after denoising (dB)"), False, None),
}


@dataclass(frozen=True)
class Challenge:
    title: str
    metric: str = "bce"
    variants: tuple[str, ...] = ()  # Empty: any variant of the class.
    constraints: dict = field(default_factory=dict)  # {setting: {"max": v} or {"min": v}}
    noise_kind: str | None = None  # For psnr_denoised: the corruption of the test images.
    noise_level: float | None = None
    id: int | None = None
    # The images its runs train and are measured on: a BCE on Fashion-MNIST (~0.27) and one on
    # MNIST (~0.08) cannot be ranked together. Challenges stored before this field are MNIST's.
    dataset: str = "mnist"

    @property
    def lower_is_better(self) -> bool:
        return METRICS[self.metric][1]

    @property
    def metric_label(self) -> str:
        """What is ranked, in the reader's language."""
        label = _(METRICS[self.metric][0])
        if self.metric == "psnr_denoised":
            # Translators: the metric of a challenge of PSNR after denoising, then the noise
            # added to the test images: "PSNR after denoising (dB), gaussian noise 0.5".
            label = _("{metric}, {noise} noise {level:g}").format(
                metric=label, noise=noise_name(self.noise_kind), level=self.noise_level
            )
        return label

    def to_json(self) -> dict:
        return {
            "title": self.title,
            "metric": self.metric,
            "variants": list(self.variants),
            "constraints": self.constraints,
            "noise_kind": self.noise_kind,
            "noise_level": self.noise_level,
            "dataset": self.dataset,
        }

    @classmethod
    def from_json(cls, data: dict, challenge_id: int | None = None) -> Challenge:
        """A checked challenge: a metric it knows, variants and constraints that exist."""
        # A title left empty: the default in the teacher's language (stored as if typed).
        title = clean_text(str(data.get("title", "")), 80) or _("Challenge")
        metric = data.get("metric", "bce")
        if metric not in METRICS:
            raise ClassError(_("unknown metric {metric!r}").format(metric=metric))
        known = variants.names()
        names = tuple(name for name in known if name in (data.get("variants") or ()))
        allowed = METRICS[metric][2]
        if allowed is not None:
            names = tuple(name for name in (names or allowed) if name in allowed)
            if not names:
                # Titles, not module names: the teacher reads this under the form.
                raise ClassError(
                    _(
                        "{metric} is measured only for {variants}: allow it among the "
                        "variants, or leave them empty"
                    ).format(
                        metric=_(METRICS[metric][0]),
                        variants=either(variants.get(name).title for name in allowed),
                    )
                )
        constraints = {}
        for name, bounds in (data.get("constraints") or {}).items():
            kept = {}
            for side in ("min", "max"):
                if bounds.get(side) is not None:
                    value = bounds[side]
                    if not isinstance(value, (int, float)) or isinstance(value, bool):
                        raise ClassError(
                            _("a bound on {setting} must be a number").format(setting=name)
                        )
                    kept[side] = value
            if name not in _numeric_settings():
                raise ClassError(_("no numeric setting {setting!r}").format(setting=name))
            if kept:
                constraints[name] = kept
        noise_kind = noise_level = None
        if metric == "psnr_denoised":
            from core.ml import noise

            noise_kind = data.get("noise_kind") or "gaussian"
            noise_level = float(data.get("noise_level", 0.5))
            if noise_kind not in noise.KINDS or not 0.0 < noise_level <= 1.0:
                raise ClassError(_("choose a noise kind and a level in (0, 1]"))
        dataset = lesson_dataset(data.get("dataset") or "mnist")
        return cls(
            title, metric, names, constraints, noise_kind, noise_level, challenge_id, dataset
        )

    def meets(self, variant: str, values: dict, dataset: str = "mnist") -> bool:
        """True when a run of `variant` with these settings, trained on `dataset`, may enter
        the challenge."""
        if dataset != self.dataset or values.get("odd"):
            return False  # An odd-one-out run never saw some labels: not the same contest.
        if self.variants and variant not in self.variants:
            return False
        if METRICS[self.metric][2] and variant not in METRICS[self.metric][2]:
            return False
        for name, bounds in self.constraints.items():
            if name not in values:
                return False  # A constraint on code size: a variant without one cannot enter.
            if "max" in bounds and values[name] > bounds["max"] * (1 + 1e-9):
                return False
            if "min" in bounds and values[name] < bounds["min"] * (1 - 1e-9):
                return False
        return True

    def rules_text(self) -> str:
        """The challenge in one line: what is ranked and what is allowed."""
        from core.ml.data import get

        best = _("lowest {metric}") if self.lower_is_better else _("highest {metric}")
        parts = [
            best.format(metric=self.metric_label),
            _("on {dataset}").format(dataset=_(get(self.dataset).title)),
            either(variants.get(name).title for name in self.variants)
            if self.variants
            else _("any variant"),
        ]
        labels = {item.name: item.label for item in _all_settings()}
        for name, bounds in self.constraints.items():
            label = in_sentence(labels[name]) if name in labels else name
            if "max" in bounds:
                parts.append(
                    _("{setting} at most {value:g}").format(setting=label, value=bounds["max"])
                )
            if "min" in bounds:
                parts.append(
                    _("{setting} at least {value:g}").format(setting=label, value=bounds["min"])
                )
        return " · ".join(parts)


def either(titles) -> str:
    """Variant titles (marked N_ where declared) as alternatives: "Vanilla or Deep"."""
    # Translators: between two variants a challenge allows: "Vanilla or Deep".
    return _(" or ").join(_(title) for title in titles)


def _all_settings():
    seen = {}
    for name in variants.names():
        for item in choices.for_variant(name):
            seen.setdefault(item.name, item)
    return list(seen.values())


def _numeric_settings() -> set[str]:
    return {item.name for item in _all_settings() if item.numeric}


def challenge_value(challenge: Challenge, metrics: dict, model, x_test) -> float | None:
    """The challenge's metric of a trained model on the 10,000 test images (in the worker).

    BCE, MSE and the VAE's negative ELBO are the run's own test metrics (`core.ml.evaluate`);
    PSNR after denoising corrupts the test set with the challenge's noise (a fixed seed, the
    same for every run) and compares the model's output with the clean images.
    """
    if challenge.metric == "psnr_denoised":
        from core.ml import metrics as measures
        from core.ml import noise
        from core.ml.evaluate import NOISE_SEED

        noisy = noise.corrupt(x_test, challenge.noise_kind, challenge.noise_level, NOISE_SEED)
        value = float(measures.psnr(x_test, measures.reconstruct(model, noisy)).mean())
    else:
        value = (metrics or {}).get(challenge.metric)
    return float(value) if value is not None and math.isfinite(value) else None


def score_run(store: Store, run: Run, metrics: dict, model, x_test) -> int:
    """Score a finished class run for every challenge whose rules it meets; returns how many."""
    if run.class_id is None:
        return 0
    values = choices.values_of(run.settings)
    count = 0
    for challenge in class_challenges(store, run.class_id):
        if challenge.meets(run.variant, values, run.dataset):
            store.add_score(
                challenge.id, run.id, challenge_value(challenge, metrics, model, x_test)
            )
            count += 1
    return count


def class_challenges(store: Store, class_id: int) -> list[Challenge]:
    return [Challenge.from_json(rules, found) for found, rules in store.challenges(class_id)]
