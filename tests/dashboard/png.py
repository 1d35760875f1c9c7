"""A small PNG decoder (zlib + numpy) for checking screenshots: 8-bit RGB or RGBA,
not interlaced — what Chromium writes. Rows filtered with None, Sub and Up are undone
with numpy; Average and Paeth (rarer in flat UI pictures) byte by byte."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SIGNATURE = b"\x89PNG\r\n\x1a\n"
Pixels = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: Pixels  # (height, width, channels)

    def colours(self) -> int:
        """How many distinct colours the image has."""
        flat = self.pixels.reshape(-1, self.pixels.shape[2]).astype(np.uint32)
        packed = flat[:, 0] << 24 | flat[:, 1] << 16 | flat[:, 2] << 8
        if flat.shape[1] == 4:
            packed |= flat[:, 3]
        return len(np.unique(packed))

    def share_of_commonest(self) -> float:
        """The share of pixels that have the image's most common colour."""
        flat = self.pixels.reshape(-1, self.pixels.shape[2]).astype(np.uint32)
        packed = flat[:, 0] << 16 | flat[:, 1] << 8 | flat[:, 2]
        return float(np.bincount(packed).max() / len(packed))


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == SIGNATURE, "not a PNG"
    found, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        found.append((kind, body))
        pos += 12 + length
    return found


def _slow(kind: int, line: bytes, prior: bytes, bpp: int) -> bytearray:
    out = bytearray(len(line))
    for i, x in enumerate(line):
        a = out[i - bpp] if i >= bpp else 0
        b = prior[i]
        if kind == 3:
            out[i] = (x + (a + b) // 2) & 0xFF
            continue
        c = prior[i - bpp] if i >= bpp else 0
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        out[i] = (x + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    return out


def decode(data: bytes) -> Image:
    chunks = _chunks(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and colour in (2, 6) and interlace == 0, "only 8-bit RGB/RGBA, not interlaced"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * bpp
    assert len(raw) == height * (stride + 1), "image data of the wrong size"
    rows = np.zeros((height, stride), dtype=np.uint8)
    prior = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1)
        if kind == 0:
            row = line.copy()
        elif kind == 1:
            row = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(stride)
        elif kind == 2:
            row = line + prior
        elif kind in (3, 4):
            row = np.frombuffer(_slow(kind, line.tobytes(), prior.tobytes(), bpp), dtype=np.uint8)
        else:
            raise AssertionError(f"unknown PNG filter {kind}")
        rows[y] = row
        prior = rows[y]
    return Image(width, height, rows.reshape(height, width, bpp))
