"""A dataset of one's own images (core.ml.own_images): read, prepared, split; and every hostile
upload the issue lists refused with a message, before anything is decompressed or decoded."""

from __future__ import annotations

import io
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.ml import own_images
from core.ml.own_images import Item, Report, UploadError, prepare, read_upload


def png(pixels: np.ndarray, mode: str = "L") -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels, mode=mode).save(out, "PNG")
    return out.getvalue()


def stroke(seed: int, light_background: bool = False) -> np.ndarray:
    """A 60x60 picture of a seeded random blob (a different shape for each seed, so no two
    are alike once trimmed, scaled and centred)."""
    generator = np.random.default_rng(seed)
    cells = (generator.random((6, 6)) > 0.5).astype(np.uint8) * 255
    cells[2, 2] = 255  # Never blank.
    picture = np.zeros((60, 60), np.uint8)
    picture[12:48, 12:48] = np.kron(cells, np.ones((6, 6), np.uint8))
    return 255 - picture if light_background else picture


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def labelled_zip(per_class: int = 60, root: str = "mine/") -> bytes:
    files = {}
    for label, offset in (("bars", 0), ("blocks", 1000)):
        for index in range(per_class):
            files[f"{root}{label}/{index}.png"] = png(stroke(offset + index))
    files[f"{root}README.txt"] = b"my images"
    files["__MACOSX/._x.png"] = b"junk"
    files[f"{root}empty/"] = b""  # An empty folder: no label.
    return zip_of(files)


def refused(files, match: str) -> None:
    with pytest.raises(UploadError, match=match):
        report = Report()
        prepare(read_upload(files, report), report=report)


def test_a_zip_of_labelled_folders_becomes_a_split_labelled_dataset():
    report = Report()
    items = read_upload([("mine.zip", labelled_zip())], report)
    assert {item.label for item in items} == {"bars", "blocks"}  # The common root is no label.
    assert report.ignored == ["mine/README.txt"]
    found = prepare(items, seed=3, report=report)
    assert found.classes == ("bars", "blocks")
    assert len(found.x_train) + len(found.x_val) + len(found.x_test) == 120 - report.duplicates
    for x, y in ((found.x_train, found.y_train), (found.x_val, found.y_val)):
        assert x.dtype == np.uint8 and x.shape[1:] == (28, 28)
        assert set(np.unique(y)) == {0, 1}  # Both classes in every split (stratified).
    assert set(np.unique(found.y_test)) == {0, 1}
    again = prepare(read_upload([("mine.zip", labelled_zip())]), seed=3)
    assert np.array_equal(again.x_test, found.x_test)  # The seed decides the split.
    other = prepare(read_upload([("mine.zip", labelled_zip())]), seed=4)
    assert not np.array_equal(other.x_test, found.x_test)


def test_mnists_recipe_centres_the_ink_by_mass_in_a_20_pixel_box():
    picture = np.zeros((100, 100), np.uint8)
    picture[5:45, 60:70] = 255  # A bar far off-centre, 40 tall.
    ready = own_images.prepare_image(Item("a.png", None, png(picture)), "mnist", Report())
    ink = ready.astype(np.float64) / 255
    rows, columns = np.indices(ink.shape)
    assert (rows * ink).sum() / ink.sum() == pytest.approx(14, abs=0.6)
    assert (columns * ink).sum() / ink.sum() == pytest.approx(14, abs=0.6)
    tall = np.flatnonzero(ink.max(axis=1) > 0.1)
    assert 19 <= tall[-1] - tall[0] + 1 <= 21  # The longer side fits MNIST's 20-pixel box.


def test_the_plain_resize_keeps_the_whole_picture_and_a_light_background_is_inverted():
    picture = np.full((56, 56), 255, np.uint8)  # White paper,
    picture[:, :14] = 0  # dark ink on its left quarter.
    ready = own_images.prepare_image(Item("a.png", None, png(picture)), "resize", Report())
    assert ready[:, :6].min() > 240 and ready[:, 9:].max() < 15  # Ink white, paper black.


def test_loose_files_duplicates_and_blank_images_are_counted():
    files = [(f"{index}.png", png(stroke(index))) for index in range(110)]
    files += [("again.png", png(stroke(0))), ("blank.png", png(np.zeros((30, 30), np.uint8)))]
    files += [("notes.txt", b"hello")]
    report = Report()
    found = prepare(read_upload(files, report), recipe="resize", report=report)
    assert not found.labelled and set(np.unique(found.y_train)) == {-1}
    assert report.duplicates == 1 and report.blank == 1 and report.ignored == ["notes.txt"]
    assert report.images == 111


def test_the_npz_holds_what_the_code_file_reads():
    found = prepare(read_upload([("mine.zip", labelled_zip())]))
    with np.load(io.BytesIO(found.npz()), allow_pickle=False) as data:
        assert data["x_train"].dtype == np.uint8 and data["x_train"].shape[1:] == (28, 28)
        assert np.array_equal(data["y_test"], found.y_test)


# Hostile uploads -------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_its_directory_before_it_is_unpacked():
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.png", b"\0" * (4 * 1024 * 1024))  # 4 MB of zeros: ~4 KB packed.
    started = time.perf_counter()
    refused([("bomb.zip", bomb.getvalue())], "zip bomb")
    assert time.perf_counter() - started < 1.0


def test_a_zip_larger_than_its_limit_once_unpacked_is_refused():
    files = {f"{i}.png": np.random.default_rng(i).bytes(4_000_000) for i in range(52)}
    refused([("big.zip", zip_of(files))], "once unpacked|uploads up to")


@pytest.mark.parametrize(
    "name", ["../evil.png", "/etc/evil.png", "a/../../evil.png", "c:evil.png", "a\\..\\evil.png"]
)
def test_a_name_reaching_outside_the_zip_is_refused(name):
    refused([("x.zip", zip_of({name: png(stroke(1))}))], "outside its own folders")


def test_a_symbolic_link_in_a_zip_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        link = zipfile.ZipInfo("images/link.png")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    refused([("x.zip", out.getvalue())], "a link")


def test_an_encrypted_member_is_refused_before_it_is_read():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("a.png")
        archive.writestr(info, png(stroke(2)))
    data = bytearray(out.getvalue())
    # Set the "encrypted" flag in both the local header and the central directory.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x1
    refused([("x.zip", bytes(data))], "encrypted")


def test_a_hundred_thousand_tiny_files_are_refused_by_their_count():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for index in range(100_000):
            archive.writestr(f"{index}.png", b"")
    refused([("many.zip", out.getvalue())], "100,000 files")


def test_a_file_named_png_that_is_no_image_is_refused_by_name():
    files = [(f"{index}.png", png(stroke(index))) for index in range(120)]
    files.append(("fake.png", b"#!/bin/sh\nrm -rf /\n"))
    refused(files, "fake.png")


def test_a_huge_pixel_count_is_refused_from_the_header():
    huge = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(huge, "PNG")  # Tiny file, 400 million pixels.
    files = [(f"{index}.png", png(stroke(index))) for index in range(120)]
    files.append(("huge.png", huge.getvalue()))
    refused(files, "huge.png")


def test_cmyk_16_bit_and_animated_images_are_converted_not_refused():
    cmyk = io.BytesIO()
    Image.fromarray(stroke(5)).convert("CMYK").save(cmyk, "JPEG", quality=95)
    deep_out = io.BytesIO()
    Image.fromarray(stroke(6).astype(np.uint16) * 257).save(deep_out, "PNG")
    deep = deep_out.getvalue()
    animated = io.BytesIO()
    frames = [Image.fromarray(stroke(7)), Image.fromarray(stroke(8))]
    frames[0].save(animated, "PNG", save_all=True, append_images=frames[1:])
    report = Report()
    for name, data in (("c.jpg", cmyk.getvalue()), ("d.png", deep), ("a.png", animated.getvalue())):
        ready = own_images.prepare_image(Item(name, None, data), "resize", report)
        assert ready.max() > 200 and ready.mean() < 128  # Light strokes on black, not noise.
    assert report.animated == 1


def test_too_few_images_and_a_mix_of_loose_and_foldered_images_are_refused():
    refused([(f"{index}.png", png(stroke(index))) for index in range(40)], "at least 100")
    files = {f"bars/{index}.png": png(stroke(index)) for index in range(60)}
    files.update({f"{index}.png": png(stroke(500 + index)) for index in range(60)})
    refused([("mixed.zip", zip_of(files))], "some are not")


def test_a_damaged_zip_and_an_oversized_upload_get_messages():
    good = bytearray(zip_of({f"{index}.png": png(stroke(index)) for index in range(120)}))
    start = good.find(b"PK\x03\x04") + 30 + len("0.png")  # The first member's packed bytes.
    good[start + 10 : start + 60] = bytes(50)
    refused([("damaged.zip", bytes(good))], "damaged: 0.png")
    refused([("truncated.zip", bytes(good[: len(good) // 2]))], "could not be read")
    with pytest.raises(UploadError, match="50 MB"):
        read_upload([("a.png", b"\0" * (51 * 1024 * 1024))])


def test_folders_too_small_to_hold_images_apart_are_refused():
    """Classes of two images stay whole in training: 50 such folders leave nothing to
    validate or test on, which is said instead of a dataset a run would crash on."""
    items = []
    for index in range(100):
        picture = np.zeros((28, 28), np.uint8)
        picture[index % 20 : index % 20 + 6, 2 : 4 + index // 4] = 255
        out = io.BytesIO()
        Image.fromarray(picture).save(out, "PNG")
        items.append(Item(f"{index}.png", f"class{index // 2}", out.getvalue()))
    with pytest.raises(UploadError, match="at least 3 images"):
        prepare(items, "resize", seed=0)
