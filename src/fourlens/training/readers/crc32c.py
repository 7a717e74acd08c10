"""CRC-32C (Castagnoli), as TFRecord framing uses it, computed for many records at once with numpy.

TFRecord stores `masked_crc = rotate_right(crc, 15) + 0xa282ead8` of the 8-byte length and of the
payload (tensorflow/core/lib/hash/crc32c.h). A reflected CRC is linear, so advancing it by k input
bits is `(crc >> k) ^ T_k[crc & (2^k - 1)]` with T_k[i] = i advanced k bits; a 16-bit table lets one
numpy operation advance a whole column of records two bytes at a time.
"""

from __future__ import annotations

import numpy as np

POLY = np.uint32(0x82F63B78)  # reflected Castagnoli polynomial
MASK_DELTA = 0xA282EAD8


def _advance_table(bits: int) -> np.ndarray:
    table = np.arange(1 << bits, dtype=np.uint32)
    for _ in range(bits):
        table = (table >> np.uint32(1)) ^ (POLY * (table & np.uint32(1)))
    return table


T8 = _advance_table(8)
T16 = _advance_table(16)


def crc32c(data: bytes) -> int:
    """CRC-32C of one byte string (used for single records; `crc32c_rows` for many)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = int(T8[(crc ^ byte) & 0xFF]) ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-32C of every row of a C-contiguous uint8 array of shape (n_records, length)."""
    n, length = rows.shape
    crc = np.full(n, 0xFFFFFFFF, dtype=np.uint32)
    even = length - length % 2
    if even:
        words = rows[:, :even].copy().view("<u2")  # (n, length // 2) little-endian byte pairs
        for j in range(words.shape[1]):
            crc = T16[(crc ^ words[:, j]) & np.uint32(0xFFFF)] ^ (crc >> np.uint32(16))
    if length % 2:
        crc = T8[(crc ^ rows[:, -1]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


def mask(crc: np.ndarray | int) -> np.ndarray | int:
    """TFRecord's masking: rotate right by 15 bits and add a constant (mod 2^32)."""
    if isinstance(crc, (int, np.integer)):
        crc = int(crc)
        return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF
    crc = crc.astype(np.uint32)
    rotated = (crc >> np.uint32(15)) | (crc << np.uint32(17))
    return (rotated.astype(np.uint64) + MASK_DELTA).astype(np.uint32)
