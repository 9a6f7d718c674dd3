"""Reads hebbd checkpoint files (format versions 1–5, docs/CHECKPOINTS.md) independently of the daemon's code.

    cp = load("state/demo/checkpoint-….hebb")
    cp.header["model"], cp.arrays["weights"].values()     # numpy, in the array's dtype

:func:`load` verifies everything the format promises (magic, version, sizes, the 8-byte alignment of the payload and
of every array, the CRC-32 of the whole file) and raises :class:`CheckpointError` with the reason otherwise.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Dict

import numpy as np

#: dtype name in the header → (numpy dtype, bytes per element)
DTYPES = {"f32": ("<f4", 4), "f64": ("<f8", 8), "u64": ("<u8", 8)}
MAGIC = b"HEBBCKPT"
VERSIONS = (1, 2, 3, 4, 5)   # 5 is written, 1 to 4 still read
PREAMBLE = 24             # magic, version u32, header length u32, payload length u64; the CRC-32 u32 ends the file


class CheckpointError(ValueError):
    """The file is not a valid checkpoint; the message says why."""


@dataclass(frozen=True)
class CheckpointArray:
    """One payload array: its header ``dtype`` (``f32``, ``f64``, ``u64``), element ``count`` and raw bytes."""

    dtype: str
    count: int
    raw: bytes

    def values(self) -> np.ndarray:
        """The elements, as a numpy array of the array's own dtype."""
        return np.frombuffer(self.raw, dtype=DTYPES[self.dtype][0])


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the JSON ``header``, the payload ``arrays`` by name and the file's ``facts``
    (``bytes``, ``header_bytes``, ``payload_bytes``, ``crc32``)."""

    header: Dict[str, Any]
    arrays: Dict[str, CheckpointArray]
    facts: Dict[str, Any]


def parse(b: bytes) -> Checkpoint:
    """A checkpoint from its bytes; raises :class:`CheckpointError`."""
    if len(b) < PREAMBLE + 4:
        raise CheckpointError(f"truncated: {len(b)} bytes")
    magic, version, hlen, plen = struct.unpack_from("<8sIIQ", b, 0)
    if magic != MAGIC:
        raise CheckpointError(f"bad magic {magic!r}")
    if version not in VERSIONS:
        raise CheckpointError(f"format version {version}")
    if len(b) != PREAMBLE + 4 + hlen + plen:
        raise CheckpointError(f"size {len(b)} != 28 + {hlen} + {plen}")
    if (PREAMBLE + hlen) % 8 != 0:
        raise CheckpointError(f"payload offset {PREAMBLE + hlen} is not 8-byte aligned")
    stored = struct.unpack_from("<I", b, len(b) - 4)[0]
    computed = zlib.crc32(b[:-4]) & 0xFFFFFFFF
    if stored != computed:
        raise CheckpointError(f"CRC mismatch: stored {stored:08x}, computed {computed:08x}")
    header = json.loads(b[PREAMBLE:PREAMBLE + hlen])
    if header.get("format") != "hebbd-checkpoint":
        raise CheckpointError(f"format {header.get('format')!r}")
    arrays: Dict[str, CheckpointArray] = {}
    start = PREAMBLE + hlen
    for a in header["arrays"]:
        if a["dtype"] not in DTYPES:
            raise CheckpointError(f"array {a['name']}: dtype {a['dtype']}")
        if a["offset"] % 8 != 0:
            raise CheckpointError(f"array {a['name']}: offset {a['offset']} not 8-byte aligned")
        end = a["offset"] + a["count"] * DTYPES[a["dtype"]][1]
        if end > plen:
            raise CheckpointError(f"array {a['name']}: bytes {a['offset']}..{end} beyond the payload of {plen}")
        arrays[a["name"]] = CheckpointArray(a["dtype"], a["count"], b[start + a["offset"]:start + end])
    facts = {"bytes": len(b), "header_bytes": hlen, "payload_bytes": plen, "crc32": f"{stored:08x}"}
    return Checkpoint(header, arrays, facts)


def load(path: str) -> Checkpoint:
    """Reads and verifies the checkpoint file at ``path``; raises :class:`CheckpointError` (or ``OSError``)."""
    with open(path, "rb") as f:
        return parse(f.read())


def payload_span(b: bytes) -> range:
    """The byte offsets of the payload in a checkpoint's bytes, from its preamble alone (no verification): for
    tests that damage a file on purpose."""
    _, _, hlen, plen = struct.unpack_from("<8sIIQ", b, 0)
    return range(PREAMBLE + hlen, PREAMBLE + hlen + plen)


__all__ = ["Checkpoint", "CheckpointArray", "CheckpointError", "DTYPES", "load", "parse", "payload_span"]
