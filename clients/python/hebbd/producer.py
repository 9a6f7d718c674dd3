"""Sending samples to hebbd's ingest socket (PUSH → the daemon's PULL), protocol v1 binary frames."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

import numpy as np
import zmq

from .curve import CurveKeys
from .errors import NotTakingSamples, ShapeError

#: Model names the daemon accepts: ``A–Z a–z 0–9 _ . -``, at most 64 bytes.
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def sample_arrays(X: Any, Y: Any, *, dtype: str = "float32",
                  dims: Optional[Tuple[int, int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` as the 2-D little-endian C-order arrays a binary message carries, after checking them.

    * ``X``: ``(rows, dict_dim)``, or 1-D ``(dict_dim,)`` for a single row.
    * ``Y``: ``(rows, sys_dim)``; 1-D with one value per row (``sys_dim`` 1); 1-D ``(sys_dim,)`` or a
      scalar when ``X`` is a single row.
    * any real dtype (float16/32/64, integers, bool); complex and object arrays are refused. The values
      must be finite, and fit float32 (the models' precision) when ``dtype`` is ``"float32"``.
    * ``dims``: the model's ``(dict_dim, sys_dim)``, checked when given.

    Raises :class:`ShapeError` (a ``ValueError``) or ``TypeError`` with the reason.
    """
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
    wire = np.dtype("<f4" if dtype == "float32" else "<f8")
    x = np.asarray(X)
    y = np.asarray(Y)
    for name, a in (("X", x), ("Y", y)):
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold real numbers, not {a.dtype}")
    if x.ndim == 1:
        single = True
        x = x.reshape(1, -1)
    elif x.ndim == 2:
        single = False
    else:
        raise ShapeError(f"X must be 2-D (rows × dict_dim) or 1-D (one row), got shape {np.shape(X)}")
    rows = x.shape[0]
    if y.ndim == 0:
        if rows != 1:
            raise ShapeError(f"a scalar Y fits one row, but X has {rows} rows")
        y = y.reshape(1, 1)
    elif y.ndim == 1:
        if single:
            y = y.reshape(1, -1)              # one row: Y is its sys_dim targets
        elif y.shape[0] == rows:
            y = y.reshape(rows, 1)            # one target per row (sys_dim 1)
        elif rows == 1:
            y = y.reshape(1, -1)
        else:
            raise ShapeError(f"1-D Y has {y.shape[0]} values for {rows} rows of X (give Y as rows × sys_dim)")
    elif y.ndim != 2:
        raise ShapeError(f"Y must be 2-D (rows × sys_dim), 1-D or a scalar, got shape {np.shape(Y)}")
    if y.shape[0] != rows:
        raise ShapeError(f"X has {rows} rows but Y has {y.shape[0]}")
    if rows == 0:
        raise ShapeError("no rows to send")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise ShapeError(f"X {x.shape} and Y {y.shape} need at least one column each")
    if dims is not None:
        if x.shape[1] != dims[0]:
            raise ShapeError(f"X has {x.shape[1]} columns, the model has dict_dim {dims[0]}")
        if y.shape[1] != dims[1]:
            raise ShapeError(f"Y has {y.shape[1]} columns, the model has sys_dim {dims[1]}")
    out = []
    for name, a in (("X", x), ("Y", y)):
        if not np.all(np.isfinite(a)):
            raise ShapeError(f"{name} holds NaN or ±Inf (the daemon rejects such a message whole)")
        with np.errstate(over="ignore"):
            w = np.ascontiguousarray(a, dtype=wire)
        if not np.all(np.isfinite(w)):
            raise ShapeError(f"{name} holds values beyond float32's range")
        out.append(w)
    return out[0], out[1]


class Producer:
    """Sends samples to a daemon's ingest endpoint as protocol v1 binary messages::

        with Producer("tcp://127.0.0.1:5555", producer="sensor-1") as p:
            p.send("demo", X, Y)                    # X: rows × dict_dim, Y: rows × sys_dim (or 1-D)

    * ``producer``: a name put in each header with an auto-incrementing ``seq`` (from ``seq``, default 0),
      so the daemon counts gaps and restarts per producer (``status`` → ``gaps``, ``sequence_resets``).
      Without a name no ``producer``/``seq`` is sent (unless ``send(seq=…)`` gives one).
    * ``timeout``: seconds a blocking send waits for the daemon to take the message before raising
      :class:`NotTakingSamples` (``None``: wait forever). ``send(block=False)`` never waits.
    * ``immediate`` (default True): queue messages only on a completed connection, so a send with no
      daemon connected raises :class:`NotTakingSamples` instead of filling a queue nobody reads.
      (False: ZeroMQ's default; messages wait, up to the high-water mark, for a daemon to appear.)
    * ``dtype``: ``"float32"`` (the models' precision, half the bytes) or ``"float64"`` on the wire.
    * ``dims``: optional ``{model: (dict_dim, sys_dim)}`` checked before sending.
    * ``curve``: :class:`~hebbd.CurveKeys` for a daemon with ``security.curve = true``.
    * ``linger``: seconds ``close()`` waits for queued messages to leave.
    """

    def __init__(self, endpoint: str = "tcp://127.0.0.1:5555", *, producer: Optional[str] = None,
                 seq: int = 0, timeout: Optional[float] = 10.0, immediate: bool = True,
                 dtype: str = "float32", dims: Optional[Mapping[str, Tuple[int, int]]] = None,
                 curve: Optional[CurveKeys] = None, linger: float = 10.0,
                 context: Optional[zmq.Context] = None) -> None:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', not {dtype!r}")
        if seq < 0:
            raise ValueError("seq must be ≥ 0")
        self.endpoint = endpoint
        self.producer = producer
        self.next_seq = seq
        self.dtype = dtype
        self.dims: Dict[str, Tuple[int, int]] = dict(dims or {})
        self.sent_messages = 0
        self.sent_rows = 0
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.PUSH)
        self._socket.setsockopt(zmq.LINGER, int(linger * 1000))
        self._socket.setsockopt(zmq.SNDTIMEO, -1 if timeout is None else int(timeout * 1000))
        self._socket.setsockopt(zmq.IMMEDIATE, 1 if immediate else 0)
        self._timeout = timeout
        if curve is not None:
            curve.apply(self._socket)
        self._socket.connect(endpoint)

    def send(self, model: str, X: Any, Y: Any, *, seq: Optional[int] = None, block: bool = True,
             extra: Optional[Mapping[str, Any]] = None) -> Optional[int]:
        """Sends one message of ``len(X)`` rows for ``model``; returns the ``seq`` it carried (or None).

        ``seq`` overrides the producer's counter (which then continues from it). ``extra`` adds keys to
        the header (the daemon ignores unknown keys). Raises :class:`ShapeError`/``TypeError`` before
        sending anything for bad arrays, and :class:`NotTakingSamples` when the daemon did not take the
        message (at once with ``block=False``, else after ``timeout``); nothing was queued then.
        """
        if not model or len(model.encode()) > 64 or not set(model) <= _NAME_CHARS:
            raise ValueError(f"model name {model!r}: 1–64 characters of A–Z a–z 0–9 _ . -")
        x, y = sample_arrays(X, Y, dtype=self.dtype, dims=self.dims.get(model))
        header: Dict[str, Any] = {"v": 1, "dtype": self.dtype, "rows": int(x.shape[0])}
        if extra:
            header.update({k: v for k, v in extra.items() if k not in header})
        used = seq if seq is not None else (self.next_seq if self.producer is not None else None)
        if used is not None:
            if used < 0:
                raise ValueError("seq must be ≥ 0")
            if self.producer is not None:
                header["producer"] = self.producer
            header["seq"] = int(used)
        frames = [model.encode(), json.dumps(header).encode(), x.tobytes(), y.tobytes()]
        try:
            self._socket.send_multipart(frames, flags=0 if block else zmq.NOBLOCK)
        except zmq.Again:
            waited = "at once" if not block else f"within {self._timeout:g} s"
            raise NotTakingSamples(f"{self.endpoint} did not take a message {waited}: is hebbd running and "
                                   "reachable (CURVE keys?), or is it behind?") from None
        if used is not None:
            self.next_seq = int(used) + 1
        self.sent_messages += 1
        self.sent_rows += int(x.shape[0])
        return used

    def send_many(self, model: str, blocks: Iterable[Tuple[Any, Any]], *, block: bool = True) -> int:
        """Sends each ``(X, Y)`` of ``blocks`` as one message; returns the number of messages sent.
        Stops at the first exception (the blocks before it were sent)."""
        n = 0
        for X, Y in blocks:
            self.send(model, X, Y, block=block)
            n += 1
        return n

    def close(self, linger: Optional[float] = None) -> None:
        """Closes the socket, waiting up to ``linger`` seconds (default: the constructor's) for queued
        messages to be sent."""
        if not self._socket.closed:
            self._socket.close(None if linger is None else int(linger * 1000))

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
