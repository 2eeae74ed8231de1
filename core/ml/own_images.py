"""A dataset of the reader's own images (issue 30, its first part): an upload read safely,
prepared as the lab's images are, and split into training, validation and test images.

An upload is one zip or several PNG/JPEG files, optionally in folders whose names are the
labels. Everything about it is checked before a byte is decompressed or a pixel decoded, from
what the zip's central directory and the images' headers declare, and again while reading
(a member may declare less than it holds):

- the archive's size, its member count (100,000 tiny files), each member's size and
  compression ratio and the total unpacked size (a zip bomb), encryption;
- each name: absolute, `..`, backslashes and drive letters (path traversal), symbolic links;
  nothing is ever written to disk, so a name is only ever a label;
- each image through core.ml.preprocess's decoder: PNG and JPEG only, the pixel count from the
  header (a decompression bomb), a file named .png that is no image; CMYK, 16-bit and paletted
  images are converted, an animated image gives its first frame (and is counted).

A refusal is an `UploadError` whose message names the problem (and the file) in the reader's
language; nothing is returned partly. Nothing uploaded is executed or unpickled: images are
decoded by Pillow's PNG and JPEG decoders, and the arrays made here are plain uint8.

Preparation has two recipes: MNIST's own (trim to the ink, fit the longer side into 20x20,
centre by mass in 28x28, light backgrounds inverted) and a plain resize of the whole picture
to 28x28 (inverted the same way). Duplicates (the same 28x28 picture twice) are dropped: the
same image in training and test data would flatter the test metrics.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from core.i18n import N_, _
from core.ml import preprocess
from core.ml.preprocess import FRAME, UploadError

MB = 1024 * 1024
MIN_IMAGES = 100
MAX_IMAGES = 20_000
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # What the browser sends (AE_MAX_DATASET_MB's default).
MAX_MEMBERS = 25_000  # Entries of a zip, folders and ignored files included.
MAX_MEMBER_BYTES = preprocess.MAX_UPLOAD_BYTES  # One image, as on Draw's upload.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # All members together, once decompressed.
MAX_RATIO = 100  # Unpacked / packed size of one member; PNG and JPEG barely compress.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# What archivers and file managers add beside the images.
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
JUNK_FOLDERS = {"__macosx"}
RECIPES = {"mnist": N_("MNIST's recipe"), "resize": N_("Plain resize")}
SPLITS = (0.8, 0.1, 0.1)  # Training, validation, test.


@dataclass(frozen=True)
class Item:
    """One image file of an upload: its name in the upload, its label (folder) and bytes."""

    name: str
    label: str | None
    data: bytes


@dataclass
class Report:
    """What reading and preparing an upload found, for the page to say."""

    images: int = 0
    ignored: list[str] = field(default_factory=list)  # Files that are no images (a README).
    duplicates: int = 0
    blank: int = 0  # Images with no ink at all (kept, as all-black pictures).
    animated: int = 0  # Animated images, of which the first frame was kept.


@dataclass
class OwnDataset:
    """A prepared dataset: uint8 28x28 images per split, labels (-1 where unlabelled), the
    class names (the folders', sorted; empty when unlabelled), and how it was made."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    recipe: str
    seed: int
    report: Report

    @property
    def labelled(self) -> bool:
        return bool(self.classes)

    def npz(self) -> bytes:
        """The prepared data as one compressed NumPy file, as "Get the data" gives the lab's
        (uint8 x_train and x_test, with their labels; the validation images too)."""
        out = io.BytesIO()
        np.savez_compressed(
            out,
            x_train=self.x_train,
            y_train=self.y_train,
            x_val=self.x_val,
            y_val=self.y_val,
            x_test=self.x_test,
            y_test=self.y_test,
        )
        return out.getvalue()


# Reading ---------------------------------------------------------------------------------


def read_upload(
    files: Sequence[tuple[str, bytes]],
    report: Report | None = None,
    most_bytes: int = MAX_UPLOAD_BYTES,
) -> list[Item]:
    """The image files of an upload: one zip, or several PNG/JPEG files (no labels: a
    browser sends file names without folders), at most `most_bytes` in all (the server's
    AE_MAX_DATASET_MB). Raises UploadError."""
    report = report if report is not None else Report()
    total = sum(len(data) for _name, data in files)
    if total > most_bytes:
        raise UploadError(
            _("The upload is {size:.1f} MB; uploads up to {limit:.0f} MB are accepted.").format(
                size=total / MB, limit=most_bytes / MB
            )
        )
    if len(files) == 1:
        name, data = files[0]
        if (
            name.lower().endswith(".zip")
            or data[:4] == b"PK\x03\x04"
            or zipfile.is_zipfile(io.BytesIO(data))
        ):
            return read_zip(data, report)  # A damaged one is said so, not read as an image.
    items = []
    for name, data in files:
        base = PurePosixPath(name.replace("\\", "/")).name
        if base.lower().endswith(IMAGE_SUFFIXES):
            items.append(Item(base, None, data))
        else:
            report.ignored.append(base)
    return items


def read_zip(data: bytes, report: Report) -> list[Item]:
    """The images of a zip, checked from its central directory before any is decompressed."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UploadError(_("The zip file could not be read: it may be damaged.")) from error
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise UploadError(
                _(
                    "The zip holds {count:,} files and folders; at most {limit:,} are accepted "
                    "(and at most {images:,} images)."
                ).format(count=len(members), limit=MAX_MEMBERS, images=MAX_IMAGES)
            )
        wanted = [info for info in members if _check_member(info, report)]
        unpacked = sum(info.file_size for info in wanted)
        if unpacked > MAX_UNPACKED_BYTES:
            raise UploadError(
                _(
                    "The zip's images add up to {size:,.0f} MB once unpacked; at most "
                    "{limit:,.0f} MB are accepted."
                ).format(size=unpacked / MB, limit=MAX_UNPACKED_BYTES / MB)
            )
        if len(wanted) > MAX_IMAGES:
            raise UploadError(
                _("The zip holds {count:,} images; at most {limit:,} are accepted.").format(
                    count=len(wanted), limit=MAX_IMAGES
                )
            )
        labels = _labels([info.filename for info in wanted])
        items = []
        for info, label in zip(wanted, labels, strict=True):
            try:
                with archive.open(info) as member:
                    # Never more than it declared (a forged size): one byte more is refused.
                    content = member.read(info.file_size + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                raise UploadError(
                    _("The zip is damaged: {name} could not be unpacked.").format(
                        name=info.filename
                    )
                ) from error
            if len(content) != info.file_size:
                raise UploadError(
                    _("{name} holds more than the zip says: the zip is damaged or forged.").format(
                        name=info.filename
                    )
                )
            items.append(Item(info.filename, label, content))
    return items


def _check_member(info: zipfile.ZipInfo, report: Report) -> bool:
    """Whether a member is an image to read; refuses a dangerous one, skips the rest."""
    name = info.filename
    path = PurePosixPath(name)
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or ".." in path.parts
        or (len(name) > 1 and name[1] == ":")
    ):
        raise UploadError(
            _("The zip holds a file named {name!r}, outside its own folders: refused.").format(
                name=name
            )
        )
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise UploadError(
            _("The zip holds a link ({name}), not a file: refused.").format(name=name)
        )
    if info.flag_bits & 0x1:
        raise UploadError(_("The zip is encrypted: upload one without a password."))
    if info.is_dir():
        return False
    lowered = [part.lower() for part in path.parts]
    if lowered[-1] in JUNK_NAMES or lowered[-1].startswith(".") or JUNK_FOLDERS & set(lowered):
        return False
    if not lowered[-1].endswith(IMAGE_SUFFIXES):
        report.ignored.append(name)
        return False
    if info.file_size > MAX_MEMBER_BYTES:
        raise UploadError(
            _("{name} is {size:.1f} MB; images up to {limit:.0f} MB are accepted.").format(
                name=name, size=info.file_size / MB, limit=MAX_MEMBER_BYTES / MB
            )
        )
    if info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise UploadError(
            _(
                "{name} unpacks to {ratio:,.0f} times its packed size: no real image does "
                "(a zip bomb?). Refused."
            ).format(name=name, ratio=info.file_size / max(info.compress_size, 1))
        )
    return True


def _labels(names: list[str]) -> list[str | None]:
    """Each image's label: the folder it is in, below the one folder all share (if any).
    Images all loose, or all in folders; a mix is refused (which label would a loose one
    have?)."""
    parts = [PurePosixPath(name).parts for name in names]
    while parts and all(len(p) > 1 for p in parts) and len({p[0] for p in parts}) == 1:
        parts = [p[1:] for p in parts]  # A zip of one folder: its name is no label.
    in_folders = [len(p) > 1 for p in parts]
    if any(in_folders) and not all(in_folders):
        raise UploadError(
            _(
                "Some images are in folders and some are not: put every image in a folder "
                "named after its label, or none in folders."
            )
        )
    return [p[0] if len(p) > 1 else None for p in parts]


# Preparing -------------------------------------------------------------------------------


def prepare(
    items: list[Item], recipe: str = "mnist", seed: int = 0, report: Report | None = None
) -> OwnDataset:
    """Decode, prepare, de-duplicate and split the images. Raises UploadError."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}")
    report = report if report is not None else Report()
    pictures, labels, seen = [], [], set()
    for item in items:
        picture = prepare_image(item, recipe, report)
        digest = hashlib.blake2b(picture.tobytes(), digest_size=16).digest()
        if digest in seen:
            report.duplicates += 1
            continue
        seen.add(digest)
        pictures.append(picture)
        labels.append(item.label)
    report.images = len(pictures)
    if len(pictures) < MIN_IMAGES:
        raise UploadError(
            _(
                "{count} different images found; a dataset needs at least {least}. (Files that "
                "were no images: {ignored}; duplicates dropped: {duplicates}.)"
            ).format(
                count=len(pictures),
                least=MIN_IMAGES,
                ignored=len(report.ignored),
                duplicates=report.duplicates,
            )
        )
    classes = tuple(sorted({label for label in labels if label is not None}))
    y = np.array([classes.index(label) if label is not None else -1 for label in labels], np.int16)
    x = np.stack(pictures)
    train, val, test = split(y, seed)
    if not len(val) or not len(test):
        # Classes of one or two images stay whole in training (issue 30's review): with only
        # such classes nothing is left to validate or test on.
        raise UploadError(
            _(
                "Too few images per folder to keep some apart for validation and testing: "
                "give each folder at least 3 images (10 or more is better)."
            )
        )
    return OwnDataset(
        x[train], y[train], x[val], y[val], x[test], y[test], classes, recipe, seed, report
    )


def prepare_image(item: Item, recipe: str, report: Report) -> np.ndarray:
    """One image as a 28x28 uint8 picture (white on black), by `recipe`."""
    try:
        ink = preprocess.upload_to_ink(item.data)
    except UploadError as error:
        raise UploadError(f"{item.name}: {error}") from error
    if _frames(item.data) > 1:
        report.animated += 1
    if ink.max(initial=0.0) <= preprocess.INK_THRESHOLD:
        report.blank += 1
        return np.zeros((FRAME, FRAME), np.uint8)
    if recipe == "mnist":
        ready = preprocess.centre_by_mass(preprocess.fit_box(preprocess.crop_to_ink(ink)))
    else:
        image = Image.fromarray(np.round(ink * 255).astype(np.uint8), mode="L")
        ready = np.asarray(image.resize((FRAME, FRAME), Image.Resampling.LANCZOS)) / 255.0
    return np.round(np.clip(ready, 0.0, 1.0) * 255).astype(np.uint8)


def prepare_one(data: bytes, recipe: str) -> np.ndarray:
    """One uploaded image file as the models' 28x28 float input in [0, 1], prepared by the
    recipe its dataset's images were (Draw's upload on a dataset of one's own). UploadError
    for what is not a readable image; EmptyDrawing for one with no ink."""
    report = Report()
    pixels = prepare_image(Item(_("your image"), None, data), recipe, report)
    if report.blank:
        raise preprocess.EmptyDrawing(_("The picture looks empty: nothing in it stands out."))
    return pixels.astype(np.float32) / 255.0


def _frames(data: bytes) -> int:
    with Image.open(io.BytesIO(data), formats=preprocess.UPLOAD_FORMATS) as image:
        return getattr(image, "n_frames", 1)


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the training, validation and test images: a seeded shuffle, per class when
    labelled (each class in the three splits in the same shares; a class of one or two
    images stays in training, so `prepare` refuses an upload that leaves a split empty)."""
    generator = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for label in np.unique(labels):
        members = generator.permutation(np.flatnonzero(labels == label))
        val = max(1, round(len(members) * SPLITS[1])) if len(members) >= 3 else 0
        test = max(1, round(len(members) * SPLITS[2])) if len(members) >= 3 else 0
        parts[1].extend(members[:val])
        parts[2].extend(members[val : val + test])
        parts[0].extend(members[val + test :])
    return tuple(np.sort(np.array(part, np.int64)) for part in parts)
