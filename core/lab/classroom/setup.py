"""A class's lesson setup: the pages and variants its students see, the settings the teacher
locks and the limits on epochs and images; and the refusal every class action raises."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

from core import i18n
from core.i18n import LANGUAGES, N_, _, ngettext
from core.ml import choices, variants
from core.ml.choices import MOST_EPOCHS
from core.ml.data import ALL_IMAGES
from core.store import Refused

# Home and Class are always shown.
PAGES = ("train", "race", "draw", "latent", "inside", "compare", "odd", "images")
PAGE_TITLES = {
    "train": N_("Train"),
    "race": N_("Race"),
    "draw": N_("Draw"),
    "latent": N_("Latent space"),
    "inside": N_("Inside"),
    "compare": N_("Compare"),
    "odd": N_("Odd one out"),
    "images": N_("Your images"),
}
# The noise kinds of core.ml.noise as a teacher reads them (a challenge's noise, a lock).
NOISE_KINDS = {
    "gaussian": N_("gaussian"),
    "salt_and_pepper": N_("salt and pepper"),
    "masking": N_("masking"),
}


class ClassError(Refused):
    """A class action refused: wrong key or code, a paused class, a setting not allowed, a
    challenge already removed. A message for the one user who asked, never a failure of the
    store (that would turn training off for the whole server)."""


# Setup -------------------------------------------------------------------------------------


def lesson_dataset(name) -> str:
    """A lesson's or a challenge's dataset, checked for its form: one of the lab's, or an
    upload's name (whose owner the teacher's action checks in the store)."""
    from core.ml.data import DATASETS, own_id

    if name in DATASETS or own_id(name) is not None:
        return name
    raise ClassError(_("unknown dataset {dataset!r}").format(dataset=str(name)[:40]))


@dataclass(frozen=True)
class Setup:
    """What a class's students see and may choose."""

    pages: tuple[str, ...] = PAGES
    variants: tuple[str, ...] = field(default_factory=lambda: tuple(variants.names()))
    locks: dict = field(default_factory=dict)  # {variant: {setting: value}}
    max_epochs: int = MOST_EPOCHS
    max_subset: int = ALL_IMAGES
    # The language every page of the class is in ("zh", "en"), or None: each student's own.
    language: str | None = None
    # The dataset the class's students start on ("mnist", "fashion" or one of the class's
    # uploads, "own-<id>"), or None: each student's own choice. They may still switch.
    dataset: str | None = None

    def to_json(self) -> dict:
        return {
            "pages": list(self.pages),
            "variants": list(self.variants),
            "locks": {name: dict(values) for name, values in self.locks.items()},
            "max_epochs": self.max_epochs,
            "max_subset": self.max_subset,
            "language": self.language,
            "dataset": self.dataset,
        }

    @classmethod
    def from_json(cls, data: dict | None) -> Setup:
        """A checked setup: unknown pages, variants, settings or values are refused."""
        data = data or {}
        pages = tuple(page for page in PAGES if page in data.get("pages", PAGES))
        known = variants.names()
        names = tuple(name for name in known if name in data.get("variants", known))
        if not names:
            raise ClassError(_("a class needs at least one variant"))
        locks = {}
        for name, values in (data.get("locks") or {}).items():
            if name not in known:
                raise ClassError(_("unknown variant {variant!r}").format(variant=name))
            locks[name] = {key: choice_of(name, key, value) for key, value in values.items()}
        max_epochs = int(data.get("max_epochs", MOST_EPOCHS))
        max_subset = int(data.get("max_subset", ALL_IMAGES))
        if not 1 <= max_epochs <= MOST_EPOCHS or max_subset not in choices.SUBSETS:
            raise ClassError(_("class limits out of range"))
        language = data.get("language")
        if language is not None and language not in LANGUAGES:
            raise ClassError(_("unknown language {language!r}").format(language=language))
        dataset = data.get("dataset")
        if dataset is not None:
            dataset = lesson_dataset(dataset)
        return cls(pages, names, locks, max_epochs, max_subset, language, dataset)

    def locked(self, variant: str) -> dict:
        return dict(self.locks.get(variant, {}))

    def choices(self, variant: str, name: str) -> tuple:
        """The values of a setting a student of this class may pick (the class limits)."""
        offered = choices.setting(variant, name).choices
        if name == "epochs":
            return tuple(value for value in offered if value <= self.max_epochs)
        if name == "subset":
            return tuple(value for value in offered if value <= self.max_subset)
        return offered

    def apply(self, variant: str, values: dict) -> dict:
        """The values a run of this class trains with: locks win, limits clamp, and a value
        the page does not offer is refused."""
        if variant not in self.variants:
            raise ClassError(
                _("{variant} is not part of this lesson").format(
                    variant=_(variants.get(variant).title)
                )
            )
        chosen = {**choices.defaults(variant), **values, **self.locked(variant)}
        result = {}
        for item in choices.for_variant(variant):
            value = choice_of(variant, item.name, chosen[item.name])
            allowed = self.choices(variant, item.name)
            if value not in allowed:  # Over a class limit: the largest value allowed.
                value = allowed[-1]
            result[item.name] = value
        return result


def choice_of(variant: str, name: str, value):
    """`value` as one of the setting's own choices, or ClassError."""
    try:
        item = choices.setting(variant, name)
    except KeyError as error:
        raise ClassError(str(error.args[0])) from None
    for choice in item.choices:
        if isinstance(choice, str) and value == choice:
            return choice
        if (
            not isinstance(choice, str)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isclose(float(value), float(choice), rel_tol=1e-9, abs_tol=1e-12)
        ):
            return choice
    raise ClassError(_("{setting} cannot be {value!r}").format(setting=_(item.label), value=value))


def clean_text(text: str, limit: int) -> str:
    """User text as one plain line: no control or format characters, spaces squeezed."""
    kept = "".join(
        " " if unicodedata.category(char)[0] in "CZ" else char
        for char in unicodedata.normalize("NFC", text)
    )
    return re.sub(r"\s+", " ", kept).strip()[:limit]


def in_sentence(label: str) -> str:
    """A setting's label (marked N_ where declared) inside a sentence: translated, and in
    English in lower case ("batch size locked at 64")."""
    text = _(label)
    return text.lower() if i18n.language() == i18n.SOURCE else text


def noise_name(kind: str) -> str:
    """A noise kind of core.ml.noise in the reader's language."""
    return _(NOISE_KINDS[kind]) if kind in NOISE_KINDS else kind.replace("_", " ")


def shown(item, value) -> str:
    """A setting's value as the teacher reads it (a noise kind in their language)."""
    return noise_name(value) if isinstance(value, str) else item.show(value)


def language_name(code: str | None) -> str:
    """A class's language as the setup names it: each in its own language, or each student's."""
    return LANGUAGES[code][1] if code in LANGUAGES else _("each student's own")


def markdown_plain(text: str) -> str:
    """User text for Markdown, shown as typed: Markdown, HTML and Streamlit's `:colour[]`
    and `:material/...:` directives are all escaped."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])", r"\\\1", text)


def dataset_name(name: str | None) -> str:
    """A lesson's dataset as the setup names it, in Markdown (an upload's name as typed)."""
    from core.ml.data import get, own_id

    if name is None:
        return _("each student's own choice")
    found = get(name)
    return markdown_plain(found.title) if own_id(name) is not None else _(found.title)


def setup_changes(old: Setup, new: Setup) -> list[str]:
    """What differs between two setups, in the teacher's words (the class page says it after
    a save: "variants added: Deep", "batch size locked at 64", "epochs unlocked")."""

    def title(name: str) -> str:
        return _(variants.get(name).title)

    def page(name: str) -> str:
        return _(PAGE_TITLES[name])

    # Translators: joins the names in "variants added: Deep, Convolutional".
    separator = _(", ")

    def names(chosen, others, name_of) -> str:
        return separator.join(name_of(item) for item in chosen if item not in others)

    changes = []
    if added := names(new.pages, old.pages, page):
        changes.append(_("pages added: {pages}").format(pages=added))
    if removed := names(old.pages, new.pages, page):
        changes.append(_("pages removed: {pages}").format(pages=removed))
    if added := names(new.variants, old.variants, title):
        changes.append(_("variants added: {variants}").format(variants=added))
    if removed := names(old.variants, new.variants, title):
        changes.append(_("variants removed: {variants}").format(variants=removed))
    if new.max_epochs != old.max_epochs:
        changes.append(
            ngettext(
                "at most {n:,} epoch per run", "at most {n:,} epochs per run", new.max_epochs
            ).format(n=new.max_epochs)
        )
    if new.max_subset != old.max_subset:
        changes.append(
            ngettext(
                "at most {n:,} training image per run",
                "at most {n:,} training images per run",
                new.max_subset,
            ).format(n=new.max_subset)
        )
    if new.language != old.language:
        changes.append(
            _("language of the class's pages: {language}").format(
                language=language_name(new.language)
            )
        )
    if new.dataset != old.dataset:
        changes.append(
            _("the lesson's dataset: {dataset}").format(dataset=dataset_name(new.dataset))
        )
    for name in new.variants:
        before, after = old.locked(name), new.locked(name)
        for item in choices.for_variant(name):
            label = in_sentence(item.label)
            if item.name in after and after[item.name] != before.get(item.name):
                changes.append(
                    _("{setting} locked at {value}").format(
                        setting=label, value=shown(item, after[item.name])
                    )
                )
            elif item.name in before and item.name not in after:
                changes.append(_("{setting} unlocked").format(setting=label))
    return changes
