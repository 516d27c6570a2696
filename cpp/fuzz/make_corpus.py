"""Writes the seed corpus of the IDX fuzz target (cpp/fuzz/corpus/idx/): a few small valid
files, raw and gzip-compressed, and one of each kind of broken file the parser must reject.

Run from anywhere: python cpp/fuzz/make_corpus.py. The files are deterministic (gzip with
mtime 0), so running it again changes nothing unless this script changed.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus" / "idx"


def idx(dims: tuple[int, ...], data: bytes | None = None, *, type_code: int = 0x08) -> bytes:
    """An IDX file: magic (0, 0, type, ndims), big-endian dims, then `data` (default: the
    declared number of bytes, counting up)."""
    if data is None:
        size = 1
        for d in dims:
            size *= d
        data = bytes(i * 7 % 256 for i in range(size))
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return header + data


def gz(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def files() -> dict[str, bytes]:
    images = idx((3, 4, 5))
    labels = idx((6,), bytes([0, 1, 2, 9, 5, 3]))
    compressed = gz(images)
    corrupt = bytearray(compressed)
    for i in range(12, len(corrupt) - 8):
        corrupt[i] ^= 0x5A
    return {
        # Valid: images 3-D, labels 1-D, raw and gzip, and two gzip members in one file.
        "valid-images-3x4x5": images,
        "valid-images-3x4x5.gz": compressed,
        "valid-labels-6": labels,
        "valid-labels-6.gz": gz(labels),
        "valid-labels-two-gzip-members.gz": gz(labels[:5]) + gz(labels[5:]),
        "valid-images-1x28x28-zeros.gz": gz(idx((1, 28, 28), bytes(784))),
        # Valid IDX, but not images or not labels.
        "idx-2d-not-images": idx((4, 5)),
        "idx-images-zero-count": idx((0, 28, 28)),
        "idx-labels-out-of-range": idx((3,), bytes([1, 10, 255])),
        "idx-4d": idx((1, 2, 2, 2)),
        # Broken headers.
        "empty": b"",
        "one-byte": b"\x00",
        "too-short-for-magic": b"\x00\x00\x08",
        "wrong-magic": b"\x01" + images[1:],
        "wrong-magic-text": b"P5\n28 28\n255\n" + bytes(16),
        "type-float-0x0d": idx((2,), bytes(8), type_code=0x0D),
        "type-int-0x0c": idx((2,), bytes(8), type_code=0x0C),
        "zero-ndims": b"\x00\x00\x08\x00",
        "ndims-255-truncated-header": b"\x00\x00\x08\xff" + bytes(40),
        "truncated-header": idx((3, 4, 5))[:9],
        # Sizes that disagree with the bytes, or overflow.
        "truncated-data": images[:-1],
        "trailing-bytes": images + b"\x00",
        "size-over-4gib": idx((65536, 65536, 2), b""),
        "huge-dims-ffffffff": idx((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), b""),
        "zero-then-huge-dims": idx((0, 0xFFFFFFFF, 0xFFFFFFFF), b""),
        "size-wraps-64-bit": idx((0x10000, 0x10000, 0x10000, 0x10000, 0x10000), b""),
        # Broken gzip.
        "gzip-magic-only": b"\x1f\x8b",
        "gzip-truncated.gz": compressed[: len(compressed) // 2],
        "gzip-corrupt.gz": bytes(corrupt),
        "gzip-trailing-garbage.gz": compressed + b"garbage",
        "gzip-of-garbage.gz": gz(b"this is not an IDX file"),
        "gzip-of-truncated-idx.gz": gz(images[:-3]),
    }


def main() -> None:
    CORPUS.mkdir(parents=True, exist_ok=True)
    for old in CORPUS.iterdir():
        old.unlink()
    for name, content in files().items():
        assert len(content) < 2048, name
        (CORPUS / name).write_bytes(content)
    print(f"wrote {len(files())} files to {CORPUS}")


if __name__ == "__main__":
    main()
