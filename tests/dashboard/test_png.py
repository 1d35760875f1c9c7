"""The screenshot checker's PNG decoder, on images encoded here with every row filter."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from tests.dashboard import png


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def _filtered(kind: int, row: bytes, prior: bytes, bpp: int) -> bytes:
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b, c = prior[i], prior[i - bpp] if i >= bpp else 0
        predictor = [0, a, b, (a + b) // 2, _paeth(a, b, c)][kind]
        out.append((x - predictor) & 0xFF)
    return bytes(out)


def encode(pixels: np.ndarray, filters: list[int]) -> bytes:
    height, width, bpp = pixels.shape
    raw, prior = bytearray(), bytes(width * bpp)
    for y in range(height):
        row = pixels[y].tobytes()
        kind = filters[y % len(filters)]
        raw += bytes([kind]) + _filtered(kind, row, prior, bpp)
        prior = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2 if bpp == 3 else 6, 0, 0, 0)
    return png.SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw))) + chunk(b"IEND", b"")


@pytest.mark.parametrize("bpp", [3, 4])
def test_every_filter_decodes_to_the_pixels(bpp: int) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, size=(12, 9, bpp), dtype=np.uint8)
    image = png.decode(encode(pixels, [0, 1, 2, 3, 4]))
    assert (image.width, image.height) == (9, 12)
    assert np.array_equal(image.pixels, pixels)


def test_colours_and_the_commonest_share() -> None:
    pixels = np.zeros((10, 10, 3), dtype=np.uint8)
    pixels[:2, :5] = (255, 0, 0)
    image = png.decode(encode(pixels, [1, 2]))
    assert image.colours() == 2 and image.share_of_commonest() == pytest.approx(0.9)


def test_a_damaged_file_is_refused() -> None:
    data = bytearray(encode(np.zeros((2, 2, 3), dtype=np.uint8), [0]))
    data[30] ^= 0xFF
    with pytest.raises(AssertionError):
        png.decode(bytes(data))
