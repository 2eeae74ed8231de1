"""The message catalogues (core.i18n): every text marked in the source is in locale/messages.pot,
every language translates every one of them (nothing empty or fuzzy) with the same
placeholders, Markdown and icons, and the lab reads them back in each language."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from core import i18n

ROOT = Path(__file__).resolve().parents[2]
POT = ROOT / "locale" / "messages.pot"
CATALOGUES = sorted((ROOT / "locale").glob("*/LC_MESSAGES/messages.po"))
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def read(path: Path):
    with path.open("rb") as file:
        return read_po(file)


def marked_in_source() -> set:
    """What `make translations` would extract now (babel.cfg's method map)."""
    found = set()
    method_map = [
        ("app.py", "python"),
        ("pages/**.py", "python"),
        ("ui/**.py", "python"),
        ("core/**.py", "python"),
    ]
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=KEYWORDS
    ):
        found.add(message)
    return found


def ids(catalogue) -> set:
    return {message.id for message in catalogue if message.id}


def fields(text: str) -> list[str]:
    """The `{placeholders}` of a message as str.format reads them (name and format spec): each
    must be in the translation, which may use one more often (a noun said twice)."""
    parsed = string.Formatter().parse(text)
    return sorted({f"{name}:{spec}" for _, name, spec, _ in parsed if name is not None})


def marks(text: str) -> dict:
    """What a translation must keep: Markdown emphasis, inline code, icons, links, line breaks."""
    return {
        "bold": text.count("**"),
        "code": sorted(re.findall(r"`([^`]*)`", text)),
        "icons": sorted(re.findall(r":material/[a-z_]+:", text)),
        "links": len(re.findall(r"\]\(", text)),
        "paragraphs": text.count("\n\n"),
    }


def test_the_template_holds_every_marked_message_of_the_source():
    in_source, in_template = marked_in_source(), ids(read(POT))
    missing = in_source - in_template
    stale = in_template - in_source
    assert not missing, f"run `make translations`; not in messages.pot: {sorted(missing)[:10]}"
    assert not stale, f"run `make translations`; no longer in the source: {sorted(stale)[:10]}"
    assert len(in_template) > 500  # The whole app, not a sample.


def test_every_catalogue_is_a_language_of_the_lab():
    locales = {locale for locale, _label in i18n.LANGUAGES.values()}
    found = [path.parent.parent.name for path in CATALOGUES]
    assert "zh_CN" in found
    assert set(found) == locales - {i18n.LANGUAGES[i18n.SOURCE][0]}


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda path: path.parent.parent.name)
def test_each_catalogue_translates_every_message_with_the_same_placeholders(path):
    catalogue, wanted = read(path), ids(read(POT))
    problems = []
    for message_id in sorted(wanted, key=str):
        message = catalogue.get(message_id)
        shown = message_id[0] if isinstance(message_id, tuple) else message_id
        if message is None:
            problems.append(f"missing: {shown!r}")
            continue
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(translations):
            problems.append(f"{'fuzzy' if message.fuzzy else 'empty'}: {shown!r}")
            continue
        sources = message_id if isinstance(message_id, tuple) else (message_id,)
        for translation in translations:
            if fields(translation) != fields(sources[-1]):
                problems.append(f"placeholders: {shown!r} -> {translation!r}")
            if marks(translation) != marks(sources[-1]):
                problems.append(f"markdown: {shown!r} -> {translation!r}")
    assert not problems, "\n".join(problems[:30]) + f"\n({len(problems)} problems)"


def test_chinese_has_one_plural_form_and_reads_back():
    catalogue = read(ROOT / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po")
    assert catalogue.num_plurals == 1
    before = i18n.language()
    try:
        i18n.use("zh")
        assert i18n._("Train") != "Train" and re.search(r"[\u4e00-\u9fff]", i18n._("Train"))
        assert i18n._("a text no catalogue has") == "a text no catalogue has"
        i18n.use("en")
        assert i18n._("Train") == "Train"
    finally:
        i18n.use(before)


def test_plural_forms_follow_the_number_in_english_and_stay_one_in_chinese():
    before = i18n.language()
    try:
        i18n.use("en")
        forms = ("mean of {n} batch", "mean of {n} batches")  # The Train chart's legend.
        assert i18n.ngettext(*forms, 1).format(n=1) == "mean of 1 batch"
        assert i18n.ngettext(*forms, 5).format(n=5) == "mean of 5 batches"
        i18n.use("zh")
        one, five = (i18n.ngettext(*forms, n).format(n=n) for n in (1, 5))
        assert re.search(r"[\u4e00-\u9fff]", one) and "1" in one and "5" in five
        assert one.replace("1", "5") == five  # One form, whatever the number.
    finally:
        i18n.use(before)


def test_numbers_and_dates_are_written_per_language():
    import time

    before = i18n.language()
    moment = time.mktime((2026, 12, 3, 15, 20, 0, 0, 0, -1))
    try:
        i18n.use("en")
        assert i18n.number(12345.678, 1) == "12,345.7"
        assert i18n.moment(moment) == "Dec 3 15:20"
        i18n.use("zh")
        assert i18n.number(12345.678, 1) == "12,345.7"  # docs/GLOSSARY.md: the same digits.
        assert i18n.moment(moment) == "12月3日 15:20"
    finally:
        i18n.use(before)


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("zh-CN", "zh"),
        ("zh-Hans-SG", "zh"),
        ("zh-TW", "zh"),
        ("zh", "zh"),
        ("en-US", "en"),
        ("en", "en"),
        ("fr-FR", None),
        ("", None),
        (None, None),
    ],
)
def test_a_browser_language_tag_maps_to_the_labs_language(tag, code):
    assert i18n.from_browser(tag) == code


def test_an_unknown_language_code_reads_english():
    before = i18n.language()
    try:
        assert i18n.use("xx") == "en"
        assert i18n.use(None) == "en"
        assert i18n.use("zh") == "zh"
    finally:
        i18n.use(before)


def test_a_stale_compiled_catalogue_is_compiled_again(tmp_path):
    """A checkout whose .po is newer than its .mo (a pull without `make translations`) reads
    the new translations, not the old compiled ones."""
    import os

    folder = tmp_path / "xx" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po, mo = folder / "messages.po", folder / "messages.mo"
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Train"\nmsgstr "old"\n', encoding="utf-8")
    i18n.compile_catalogue(po, mo)
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Train"\nmsgstr "new"\n', encoding="utf-8")
    os.utime(mo, (1, 1))
    saved_dir, saved = i18n.LOCALE_DIR, dict(i18n.LANGUAGES)
    try:
        i18n.LOCALE_DIR = tmp_path
        i18n.LANGUAGES["xx"] = ("xx", "xx")
        i18n._catalogues.pop("xx", None)
        assert i18n.catalogue("xx").gettext("Train") == "new"
    finally:
        i18n.LOCALE_DIR = saved_dir
        i18n.LANGUAGES.clear()
        i18n.LANGUAGES.update(saved)
        i18n._catalogues.pop("xx", None)
