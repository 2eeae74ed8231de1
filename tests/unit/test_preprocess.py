"""Canvas to MNIST: known inputs, the MNIST normalisation, and blank drawings."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core.ml.data import to_images
from core.ml.preprocess import (
    EmptyDrawing,
    UploadError,
    as_batch,
    canvas_to_mnist,
    upload_to_mnist,
)
from tests.support.images import png_header_only


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, columns = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (columns * image).sum() / image.sum()


def ink_box(image: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero((image > 0.1).any(axis=1))
    columns = np.flatnonzero((image > 0.1).any(axis=0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


def best_shifted_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Highest correlation of `a` with `b` shifted by at most one pixel each way."""
    return max(
        np.corrcoef(a.ravel(), np.roll(b, (dy, dx), axis=(0, 1)).ravel())[0, 1]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def rgba_canvas(ink: np.ndarray, transparent: bool = False) -> np.ndarray:
    """White ink on black (opaque) or on transparent, as a canvas returns it."""
    value = np.round(ink * 255).astype(np.uint8)
    canvas = np.zeros((*ink.shape, 4), np.uint8)
    if transparent:
        canvas[..., :3] = 255
        canvas[..., 3] = value
    else:
        canvas[..., :3] = value[..., None]
        canvas[..., 3] = 255
    return canvas


def upscale_digit(digit: np.ndarray, size: int, top: int, left: int) -> np.ndarray:
    """An MNIST digit blown up to `size` pixels and placed on a 280x280 canvas."""
    big = Image.fromarray(digit).resize((size, size), Image.Resampling.BICUBIC)
    canvas = np.zeros((280, 280), np.float32)
    canvas[top : top + size, left : left + size] = np.asarray(big, np.float32) / 255
    return canvas


@pytest.fixture(scope="module")
def digits(test_digits):
    return test_digits


def test_rectangle_becomes_twenty_pixels_tall_and_centred():
    canvas = np.zeros((280, 280), np.float32)
    canvas[30:130, 200:250] = 1.0  # 100 tall, 50 wide, far from the centre.
    image = canvas_to_mnist(rgba_canvas(canvas))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert ink_box(image) == (20, 10)  # Longer side 20, aspect ratio kept.
    row, column = centre_of_mass(image)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5


@pytest.mark.parametrize("transparent", [False, True])
def test_mnist_digit_survives_the_round_trip(digits, transparent):
    # MNIST digits are already normalised, so blowing one up and drawing it anywhere must
    # give the same digit back, up to a pixel of shift from rounding the centre of mass.
    correlations = []
    for digit in digits:
        canvas = upscale_digit(digit, 200, 40, 60)
        image = canvas_to_mnist(rgba_canvas(canvas, transparent))
        original = digit.astype(np.float32) / 255
        correlations.append(best_shifted_correlation(image, original))
    assert min(correlations) > 0.9 and np.median(correlations) > 0.97


def test_small_large_and_off_centre_drawings_agree(digits):
    digit = digits[0]
    versions = [
        canvas_to_mnist(rgba_canvas(upscale_digit(digit, size, top, left)))
        for size, top, left in [(60, 10, 10), (270, 5, 5), (120, 150, 150), (90, 0, 185)]
    ]
    for other in versions[1:]:
        assert best_shifted_correlation(versions[0], other) > 0.93


def test_grayscale_and_rgb_inputs_are_accepted(digits):
    canvas = upscale_digit(digits[1], 200, 40, 40)
    gray = canvas_to_mnist(np.round(canvas * 255).astype(np.uint8))
    rgb = canvas_to_mnist(np.repeat(np.round(canvas * 255).astype(np.uint8)[..., None], 3, 2))
    np.testing.assert_allclose(gray, rgb, atol=1 / 255)


@pytest.mark.parametrize(
    "canvas",
    [
        None,
        np.zeros((280, 280, 4), np.uint8),  # Nothing drawn (transparent).
        rgba_canvas(np.zeros((280, 280), np.float32)),  # Opaque black.
        rgba_canvas(np.full((280, 280), 0.05, np.float32)),  # Only faint smudges.
    ],
)
def test_blank_canvas_raises_empty_drawing(canvas):
    with pytest.raises(EmptyDrawing, match="Draw a digit"):
        canvas_to_mnist(canvas)
    assert issubclass(EmptyDrawing, ValueError)


def test_as_batch_shapes_for_the_models(digits):
    image = to_images(digits[:1])[0, ..., 0]
    assert as_batch(image).shape == (1, 28, 28, 1)


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_upload_of_dark_ink_on_paper_matches_the_digit(digits):
    digit = digits[2]
    paper = Image.fromarray(255 - np.asarray(Image.fromarray(digit).resize((200, 200))))
    for fmt in ("PNG", "JPEG"):
        image = upload_to_mnist(png_bytes(paper.convert("RGB"), fmt))
        assert best_shifted_correlation(image, digit.astype(np.float32) / 255) > 0.9


def test_upload_with_transparency_uses_the_opaque_part(digits):
    alpha = Image.fromarray(digits[4]).resize((140, 140))
    rgba = Image.merge("RGBA", [Image.new("L", alpha.size, 0)] * 3 + [alpha])
    image = upload_to_mnist(png_bytes(rgba))
    assert best_shifted_correlation(image, digits[4].astype(np.float32) / 255) > 0.9


@pytest.mark.parametrize("data", [b"hello, not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b""])
def test_broken_uploads_raise_a_clear_error(data):
    with pytest.raises(UploadError, match="PNG or JPEG"):
        upload_to_mnist(data)


def test_huge_image_is_refused_from_its_header():
    big = png_bytes(Image.new("L", (5000, 5000)))
    with pytest.raises(UploadError, match="5000x5000"):
        upload_to_mnist(big)


def test_a_single_dot_or_a_filled_canvas_gets_a_clear_message():
    dot = np.zeros((280, 280), np.float32)
    dot[140:146, 140:146] = 1.0
    with pytest.raises(EmptyDrawing, match="only a dot"):
        canvas_to_mnist(rgba_canvas(dot))
    with pytest.raises(EmptyDrawing, match="covered in ink"):
        canvas_to_mnist(rgba_canvas(np.ones((280, 280), np.float32)))


def test_a_stroke_touching_every_border_still_works():
    frame = np.zeros((280, 280), np.float32)
    frame[:12, :] = frame[-12:, :] = frame[:, :12] = frame[:, -12:] = 1.0  # A big "0".
    image = canvas_to_mnist(rgba_canvas(frame))
    assert ink_box(image) == (20, 20)


def test_decompression_bomb_is_refused_before_decoding():
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(UploadError, match=r"too large|pixels"):
        upload_to_mnist(png_header_only(20000, 20000))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 10_000_000  # Refused from the header: nothing near 400 MB was allocated.


def test_truncated_png_gets_a_clear_message(digits):
    whole = png_bytes(Image.fromarray(digits[0]).resize((200, 200)))
    with pytest.raises(UploadError, match="could not be read"):
        upload_to_mnist(whole[: len(whole) // 2])


def test_sixteen_bit_png_is_scaled_not_clipped(digits):
    # 16-bit grayscale scans exist; Pillow's convert("L") would clip them to white.
    wide = np.asarray(Image.fromarray(digits[3]).resize((140, 140)), np.uint16) * 257
    data = png_bytes(Image.fromarray(wide))
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    image = upload_to_mnist(data)
    assert best_shifted_correlation(image, digits[3].astype(np.float32) / 255) > 0.9


def test_cmyk_jpeg_of_dark_ink_on_paper(digits):
    ink = np.asarray(Image.fromarray(digits[5]).resize((200, 200)))
    black = Image.fromarray(ink)  # CMYK: K channel is the ink, paper has no colour at all.
    empty = Image.new("L", black.size, 0)
    cmyk = Image.merge("CMYK", [empty, empty, empty, black])
    image = upload_to_mnist(png_bytes(cmyk, "JPEG"))
    assert best_shifted_correlation(image, digits[5].astype(np.float32) / 255) > 0.9


def test_gif_and_other_formats_are_refused_by_name(digits):
    frames = [Image.fromarray(digits[i]) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(UploadError, match="PNG or JPEG"):
        upload_to_mnist(buffer.getvalue())
    with pytest.raises(UploadError, match="PNG or JPEG"):
        upload_to_mnist(png_bytes(frames[0], "BMP"))


def test_file_over_the_size_limit_is_refused_unread():
    from core.ml.preprocess import MAX_UPLOAD_BYTES

    with pytest.raises(UploadError, match="MB"):
        upload_to_mnist(b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_UPLOAD_BYTES)


def test_drawing_pad_png_is_read_at_280_and_anything_else_refused():
    import base64
    import io

    from PIL import Image

    from core.ml.preprocess import UploadError, drawing_from_png

    picture = np.zeros((280, 280, 4), np.uint8)
    picture[..., 3] = 255
    picture[40:240, 130:150, :3] = 255  # A white bar, the way the pad draws ink.
    buffer = io.BytesIO()
    Image.fromarray(picture, "RGBA").save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert np.array_equal(drawing_from_png(url, 280), picture)

    small = io.BytesIO()
    Image.fromarray(picture[:100, :100], "RGBA").save(small, format="PNG")
    for bad in [
        "data:image/png;base64," + base64.b64encode(small.getvalue()).decode(),  # Wrong size.
        "data:image/png;base64,not base64!",
        "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode(),
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/png;base64," + "A" * 3_000_000,  # Refused by its length alone.
        None,
    ]:
        with pytest.raises(UploadError):
            drawing_from_png(bad, 280)
