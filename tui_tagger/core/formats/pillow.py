"""PNG, JPEG, JPEG 2000, GIF, WebP and BMP through Pillow. Colour is turned into grey by make_frame; 16-bit
greyscale PNGs keep their 16 bits."""

from __future__ import annotations

import warnings

import numpy as np

from tui_tagger.core.regular import NotRegularFile, open_regular

from .base import (
    FrameRef,
    ImageFormat,
    always_one,
    check_index,
    check_size,
    fail,
    make_frame,
    numbered_refs,
    open_source,
)

MAGIC = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "jpeg2000": (b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"),
    "gif": (b"GIF87a", b"GIF89a"),
}
EXTENSIONS = {
    "png": ("png",),
    "jpeg": ("jpg", "jpeg", "jpe"),
    "jpeg2000": ("jp2", "j2k", "jpx", "jpf"),
    "gif": ("gif",),
    "webp": ("webp",),
    "bmp": ("bmp",),
}


def _sniff(name: str):
    if name == "webp":
        return lambda head, fname: head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if name == "bmp":  # 'BM' alone is too weak a magic: ask for the extension as well
        return lambda head, fname: head[:2] == b"BM" and fname.endswith(".bmp")
    return lambda head, fname: head.startswith(MAGIC[name])


# Pillow modes -> what np.asarray should see: colour and palette images become RGB, 1-bit becomes 8-bit
_CONVERT = {"P": "RGB", "PA": "RGB", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "1": "L",
            "LA": "L", "La": "L", "RGBa": "RGB"}


def read_pillow(ref: FrameRef, head: bytes, max_pixels: int, name: str):
    from PIL import Image

    try:
        with open_source(ref, max_pixels) as src:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
                im = Image.open(src)
            with im:
                count = int(getattr(im, "n_frames", 1) or 1)
                index = check_index(ref, count)
                if index:
                    im.seek(index)
                width, height = im.size
                check_size(ref, (height, width), max_pixels)
                mode = im.mode
                im.load()
                raw = np.asarray(im.convert(_CONVERT[mode]) if mode in _CONVERT else im)
    except NotRegularFile as err:
        raise fail(ref, err.strerror) from None
    except Image.UnidentifiedImageError:  # its message names the file object, not the file
        raise fail(ref, f"corrupt or truncated {name.upper()} file (Pillow cannot identify its contents)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:  # Pillow's errors for corrupt/truncated files
        raise fail(ref, f"corrupt or truncated {name.upper()} file ({' '.join(str(err).split())})") from None
    meta: dict[str, object] = {"frames": count, "frame": index, "mode": mode}
    # 8-bit images: 255 is the brightest grey, not a detector flag; the saturated share is still worth knowing
    return make_frame(ref, raw, name, meta, flag_max=False)


@numbered_refs
def _refs_of(path) -> int:
    from PIL import Image

    with open_regular(path) as fh, Image.open(fh) as im:
        return int(getattr(im, "n_frames", 1) or 1)


def formats() -> list[ImageFormat]:
    def reader(name):
        return lambda ref, head, max_pixels: read_pillow(ref, head, max_pixels, name)

    return [ImageFormat(name, _sniff(name), reader(name), exts, _refs_of, one_frame=_ONE_FRAME.get(name))
            for name, exts in EXTENSIONS.items()]


def _png_one_frame(head: bytes, path, size: int) -> bool:
    return b"acTL" not in head  # animated PNGs declare their frames before the first image data


# GIF and WebP may be animated: Pillow counts their frames
_ONE_FRAME = {"png": _png_one_frame, "jpeg": always_one, "jpeg2000": always_one, "bmp": always_one}
