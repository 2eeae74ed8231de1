"""Turn a drawing into an MNIST-like 28x28 image, the way MNIST itself was made.

MNIST digits were size-normalised to fit a 20x20 box (keeping their aspect ratio, with
anti-aliasing) and then centred in a 28x28 frame by their centre of mass. A digit drawn small,
large or off-centre on a 280x280 canvas must look like that before a model sees it, or the
model is tested on a distribution it never learned.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.i18n import _

FRAME = 28
BOX = 20  # MNIST's size-normalisation box inside the 28x28 frame.
INK_THRESHOLD = 0.1  # Fraction of full intensity below which a pixel counts as background.


MAX_UPLOAD_PIXELS = 4096 * 4096  # Far above any photo of a digit; decoded it is 16 MB.
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # Also the uploader's own limit; checked again here.
UPLOAD_FORMATS = ("PNG", "JPEG")


class UploadError(ValueError):
    """Raised for an uploaded file that is not a usable PNG or JPEG image."""


class EmptyDrawing(ValueError):
    """Raised when an image holds no ink to reconstruct. The message is shown to the reader
    as it is: raised in their script run, it is in their language."""

    def __init__(self, message: str | None = None):
        super().__init__(message or _("Draw a digit on the canvas to see it reconstructed."))


def ink_intensity(image: np.ndarray) -> np.ndarray:
    """Ink per pixel in [0, 1] for white-on-black grayscale, RGB or RGBA images.

    For RGBA, luminance is weighted by alpha, so white ink reads the same on an opaque black
    background and on a transparent one.
    """
    pixels = np.asarray(image)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    scale = 255.0 if pixels.dtype == np.uint8 or pixels.max(initial=0) > 1.0 else 1.0
    pixels = pixels.astype(np.float32) / scale
    if pixels.ndim == 2:
        return np.clip(pixels, 0.0, 1.0)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"expected a grayscale, RGB or RGBA image, got shape {pixels.shape}")
    luminance = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    if pixels.shape[2] == 4:
        luminance = luminance * pixels[..., 3]
    return np.clip(luminance, 0.0, 1.0)


def crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """The smallest rectangle holding every pixel above the ink threshold."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    columns = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        raise EmptyDrawing()
    return ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]


def fit_box(ink: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio, with anti-aliasing."""
    height, width = ink.shape
    scale = box / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(np.round(ink * 255).astype(np.uint8), mode="L")
    # LANCZOS low-pass filters when shrinking, like the anti-aliasing of NIST's normalisation.
    return np.asarray(image.resize(size, Image.Resampling.LANCZOS), np.float32) / 255.0


def centre_by_mass(ink: np.ndarray, frame: int = FRAME) -> np.ndarray:
    """Place `ink` so its centre of mass lands on pixel (14, 14), where MNIST puts it."""
    height, width = ink.shape
    total = ink.sum()
    rows, columns = np.indices(ink.shape)
    centre_row = (rows * ink).sum() / total
    centre_column = (columns * ink).sum() / total
    top = round(float(frame / 2 - centre_row))
    left = round(float(frame / 2 - centre_column))
    # Keep the whole box inside the frame even for lopsided strokes.
    top = min(max(top, 0), frame - height)
    left = min(max(left, 0), frame - width)
    result = np.zeros((frame, frame), np.float32)
    result[top : top + height, left : left + width] = ink
    return result


MIN_INK_SIDE = 0.05  # A drawing spanning less than 5% of the canvas is a dot, not a digit.
MAX_INK_SHARE = 0.6  # Ink on more than 60% of the canvas is a filled area, not a stroke.


def check_drawing(ink: np.ndarray) -> None:
    """Refuse what no digit looks like, with a message the page can show as it is."""
    if ink.max(initial=0.0) <= INK_THRESHOLD:
        raise EmptyDrawing()
    mask = ink > INK_THRESHOLD
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    span = max(rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1)
    if span < MIN_INK_SIDE * max(ink.shape):
        raise EmptyDrawing(_("That is only a dot: draw a whole digit, filling most of the square."))
    if mask.mean() > MAX_INK_SHARE:
        raise EmptyDrawing(
            _("Most of the square is covered in ink: clear it and draw a digit with a few strokes.")
        )


def canvas_to_mnist(rgba: np.ndarray) -> np.ndarray:
    """A canvas image (white ink on black or transparent) as a 28x28 float32 image in [0, 1]."""
    if rgba is None:
        raise EmptyDrawing()
    ink = ink_intensity(rgba)
    check_drawing(ink)
    return centre_by_mass(fit_box(crop_to_ink(ink)))


PNG_DATA_URL = "data:image/png;base64,"
# A 280x280 RGBA PNG is at most ~314 KB uncompressed, ~420 KB in base64; the pad's black and
# white drawings are a few KB. Anything longer did not come from the pad.
MAX_DRAWING_CHARS = 2_000_000


def drawing_from_png(data_url: str, size: int) -> np.ndarray:
    """The Draw page's canvas as sent by the browser (a PNG data URL) as (size, size, 4) RGBA.

    The browser is not trusted: anything but a PNG of exactly size x size pixels is refused
    with a message, before more than its header is decoded."""
    if not isinstance(data_url, str) or not data_url.startswith(PNG_DATA_URL):
        raise UploadError(_("The drawing did not arrive as an image: clear it and draw again."))
    if len(data_url) > MAX_DRAWING_CHARS:  # Refused before decoding a byte of it.
        raise UploadError(
            _("The drawing is far larger than the pad makes: clear it and draw again.")
        )
    try:
        data = base64.b64decode(data_url[len(PNG_DATA_URL) :], validate=True)
        with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
            if image.size != (size, size):
                raise UploadError(
                    _(
                        "The drawing is {width}x{height} pixels, not {size}x{size}: clear it "
                        "and draw again."
                    ).format(width=image.width, height=image.height, size=size)
                )
            return np.asarray(image.convert("RGBA"))
    except UploadError:
        raise
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise UploadError(_("The drawing could not be read: clear it and draw again.")) from error


def as_batch(image: np.ndarray) -> np.ndarray:
    """A 28x28 image as a batch of one (1, 28, 28, 1), the models' input shape."""
    return np.asarray(image, np.float32).reshape(1, FRAME, FRAME, 1)


def grayscale(image: Image.Image) -> np.ndarray:
    """Intensities in [0, 1] for any PNG/JPEG mode, 16-bit and CMYK included.

    Pillow's `convert("L")` clips 16-bit samples at 255 instead of scaling them, which turns
    a 16-bit scan almost entirely white; those are scaled by their full range here.
    """
    if image.mode.startswith("I;16"):
        return np.asarray(image, np.float32) / 65535.0
    if image.mode in ("I", "F"):
        values = np.asarray(image, np.float32)
        low, high = float(values.min()), float(values.max())
        return (values - low) / (high - low) if high > low else np.zeros_like(values)
    return np.asarray(image.convert("L"), np.float32) / 255.0


def upload_to_ink(data: bytes, max_pixels: int = MAX_UPLOAD_PIXELS) -> np.ndarray:
    """Decode an uploaded PNG or JPEG into ink intensities in [0, 1] (white ink on black).

    Only PNG and JPEG decoders are tried, and the pixel count is checked from the header
    before any pixel is decoded, so a small file that expands to gigabytes is refused
    cheaply. Photos of dark ink on light paper are inverted; for images with transparency
    the opaque part is the ink.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            _("The file is {size:.1f} MB; files up to {limit:.0f} MB are accepted.").format(
                size=len(data) / 1e6, limit=MAX_UPLOAD_BYTES / 1e6
            )
        )
    try:
        with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as image:
            if image.width * image.height > max_pixels:
                raise UploadError(
                    _(
                        "The image is {width}x{height} pixels; images up to {limit:,} pixels "
                        "are accepted. A photo of one digit needs far fewer."
                    ).format(width=image.width, height=image.height, limit=max_pixels)
                )
            image = ImageOps.exif_transpose(image)  # Phone photos store rotation separately.
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                alpha = np.asarray(image.convert("RGBA"), np.float32)[..., 3] / 255.0
                if alpha.min() < 0.98:
                    return alpha
            gray = grayscale(image)
    except UploadError:
        raise
    except Image.DecompressionBombError as error:  # Pillow's own, stricter-than-ours guard.
        raise UploadError(
            _(
                "The image is too large to open safely; images up to {limit:,} pixels are accepted."
            ).format(limit=max_pixels)
        ) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise UploadError(
            _(
                "This file could not be read as a PNG or JPEG image. Try another file, or draw "
                "the digit instead."
            )
        ) from error
    # Paper is light and ink dark in photos and scans; MNIST is the other way round.
    return 1.0 - gray if np.median(gray) > 0.5 else gray


def upload_to_mnist(data: bytes) -> np.ndarray:
    """An uploaded image file as a 28x28 MNIST-like image; see `upload_to_ink`."""
    return canvas_to_mnist(upload_to_ink(data))


def upload_to_fashion(data: bytes) -> np.ndarray:
    """An uploaded photo of one garment as a 28x28 Fashion-MNIST-like image.

    Fashion-MNIST's pictures were made from product photos: trimmed to the object, the longest
    side resized to 28 pixels with the aspect kept, centred, converted to grey and inverted
    (a light object on black). Unlike MNIST there is no 20-pixel box and no centring by mass:
    the garment fills the frame. `upload_to_ink` already inverted a light background.
    """
    ink = upload_to_ink(data)
    if (ink > INK_THRESHOLD).sum() < 4:
        raise EmptyDrawing(
            _("The picture looks empty: photograph one garment on a plain background.")
        )
    fitted = fit_box(crop_to_ink(ink), FRAME)
    height, width = fitted.shape
    top, left = (FRAME - height) // 2, (FRAME - width) // 2  # Centred by its box, not its mass.
    result = np.zeros((FRAME, FRAME), np.float32)
    result[top : top + height, left : left + width] = fitted
    return result
