"""Receiving coefficients and events from hebbd's publish socket (SUB → the daemon's XPUB)."""

from __future__ import annotations

import collections
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Iterable, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import zmq

from .curve import CurveKeys
from .errors import HebbdTimeout


def _float(v: Any) -> Optional[float]:
    return None if v is None else float(v)


class Interval(NamedTuple):
    """The published interval of every coefficient at coverage ``level`` (e.g. 0.95): ``lower`` and ``upper``
    have the coefficients' shape ``(dict_dim, sys_dim)``. For ``kind = "bayesian"`` it is mean ± z·std; for a
    sparse kind with ``uncertainty = true`` the relaxed active-set refit ± z·std (so not centred at the published
    coefficients), and [0, 0] for a coefficient published as exactly 0 (docs/PROTOCOL.md, docs/MATH.md §11)."""

    lower: np.ndarray
    upper: np.ndarray
    level: float


def _matrix(values: Any, rows: int, cols: int, name: str) -> np.ndarray:
    """A JSON ``dict_dim × sys_dim`` array as float32 (the binary frames' precision)."""
    a = np.asarray(values, dtype=np.float32)
    if a.size != rows * cols:
        raise ValueError(f"{name} has {a.size} values for shape {rows}×{cols}")
    return a.reshape(rows, cols)


def _frame(frame: bytes, rows: int, cols: int, name: str) -> np.ndarray:
    """A binary frame of ``dict_dim × sys_dim`` little-endian float32 values, row-major."""
    if len(frame) != rows * cols * 4:
        raise ValueError(f"{name} frame of {len(frame)} bytes for shape {rows}×{cols}")
    return np.frombuffer(frame, dtype="<f4").astype(np.float32).reshape(rows, cols)


def _vector(values: Any, cols: int, name: str, dtype: Any) -> Optional[np.ndarray]:
    if values is None:
        return None
    a = np.asarray(values, dtype=dtype)
    if a.size != cols:
        raise ValueError(f"{name} has {a.size} values for sys_dim {cols}")
    return a.reshape(cols)


@dataclass
class Update:
    """One ``coef/<model>/`` message: the model's published state after an update (or after a reset or
    a restore, when ``loss``/``mse`` are None).

    ``coefficients`` is a float32 array (the models' precision) of shape ``(dict_dim, sys_dim)``
    (thresholded: \\|w\\| below ``threshold`` is 0), with the same values from the JSON and from the binary
    frame. ``intercept`` is a float32 array of ``sys_dim`` values, or None when the message has none;
    ``standardized`` is False when absent.

    A model with uncertainty (``kind = "bayesian"``, or a sparse kind with ``uncertainty = true``) also publishes
    ``std`` (float32, the coefficients' shape: each coefficient's posterior standard deviation, exactly 0 where
    the coefficient is exactly 0), ``interval`` (an :class:`Interval`), ``intercept_std`` (float32, ``sys_dim``
    values; 0 without an intercept) and ``noise_std`` (float64, ``sys_dim`` values: the noise standard deviation
    in force), the same from the JSON and from the binary frames 3–5 (docs/PROTOCOL.md); all four are None for a
    model without uncertainty.

    Set by the :class:`Subscriber` (not by the daemon): ``restarted`` is True when ``seq`` went *back*
    (the daemon restarted from an older checkpoint or without one, or the model was re-created) — the
    update is delivered and tracking continues from it; ``missed`` counts the seqs skipped before this
    one (messages the publish queue dropped, or that were sent before the subscription). ``raw`` is the
    whole JSON body.
    """

    model: str
    seq: int
    step: int
    samples: int
    loss: Optional[float]
    mse: Optional[float]
    nnz: int
    coefficients: np.ndarray
    intercept: Optional[np.ndarray] = None
    standardized: bool = False
    kind: Optional[str] = None
    time: Optional[str] = None
    penalty: Optional[float] = None
    prior: Optional[float] = None
    prequential_mse: Optional[float] = None
    window: Optional[int] = None
    threshold: Optional[float] = None
    std: Optional[np.ndarray] = None
    interval: Optional[Interval] = None
    intercept_std: Optional[np.ndarray] = None
    noise_std: Optional[np.ndarray] = None
    restarted: bool = False
    missed: int = 0
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_frames(cls, frames: List[bytes]) -> "Update":
        """Decodes ``[topic, json]`` (JSON format), ``[topic, json, float32 coefficients]`` (binary) or, for a
        model with uncertainty, ``[topic, json, coefficients, std, lower, upper]`` (binary)."""
        body = json.loads(frames[1])
        binary = frames[2] if len(frames) >= 3 else None
        return cls.from_json(body, binary, frames[3:] if len(frames) > 3 else None)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], binary: Optional[bytes] = None,
                  uncertainty: Optional[Sequence[bytes]] = None) -> "Update":
        """An update from a parsed coef body (also the ``snapshot`` control reply), with the coefficients
        from ``binary`` (little-endian float32, row-major) when given, and the ``std``, ``lower`` and ``upper``
        frames of a model with uncertainty from ``uncertainty`` (binary format; the JSON format has them inline)."""
        rows, cols = (int(n) for n in body["shape"])
        if binary is not None:
            coef = _frame(binary, rows, cols, "coefficient")
        else:
            coef = np.asarray(body["coefficients"], dtype=np.float32).reshape(rows, cols)
        intercept = body.get("intercept")
        interval_body = body.get("interval")
        std = interval = None
        if uncertainty is not None:
            if len(uncertainty) != 3 or not isinstance(interval_body, Mapping):
                raise ValueError(f"binary coefficient message with {3 + len(uncertainty)} frames: expected 3, or 6 "
                                 "(std, lower, upper) with an \"interval\" key")
            std = _frame(uncertainty[0], rows, cols, "std")
            interval = Interval(_frame(uncertainty[1], rows, cols, "lower"), _frame(uncertainty[2], rows, cols, "upper"),
                                float(interval_body["level"]))
        elif "std" in body:
            if not isinstance(interval_body, Mapping):
                raise ValueError("coefficient message with \"std\" but no \"interval\"")
            std = _matrix(body["std"], rows, cols, "std")
            interval = Interval(_matrix(interval_body["lower"], rows, cols, "interval lower"),
                                _matrix(interval_body["upper"], rows, cols, "interval upper"), float(interval_body["level"]))
        elif interval_body is not None:
            raise ValueError("coefficient message with an \"interval\" but no \"std\" (nor its binary frames)")
        return cls(
            model=str(body["model"]), seq=int(body["seq"]), step=int(body["step"]), samples=int(body["samples"]),
            loss=_float(body.get("loss")), mse=_float(body.get("mse")), nnz=int(body["nnz"]), coefficients=coef,
            intercept=None if intercept is None else np.asarray(intercept, dtype=np.float32).reshape(cols),
            standardized=bool(body.get("standardized", False)), kind=body.get("kind"), time=body.get("time"),
            penalty=_float(body.get("penalty")), prior=_float(body.get("prior")),
            prequential_mse=_float(body.get("prequential_mse")), window=body.get("window"),
            threshold=_float(body.get("threshold")), std=std, interval=interval,
            intercept_std=_vector(body.get("intercept_std"), cols, "intercept_std", np.float32) if std is not None else None,
            noise_std=_vector(body.get("noise_std"), cols, "noise_std", np.float64) if std is not None else None,
            raw=dict(body))

    @property
    def shape(self) -> Tuple[int, int]:
        """``(dict_dim, sys_dim)``."""
        rows, cols = self.coefficients.shape
        return int(rows), int(cols)


@dataclass
class Event:
    """One ``event/<model>/`` message (``model`` is ``"*"`` for daemon-wide events): ``event`` is e.g.
    ``added``, ``restored``, ``removed``, ``reset``, ``set``, ``reloaded``, ``rejected``, ``checkpoint``,
    ``checkpoint_failed``, ``stopping``, ``drift``, ``diverged``; ``data`` is the whole JSON body (``counts``,
    ``path``, ``step``, …)."""

    model: str
    event: str
    time: Optional[str]
    data: Dict[str, Any]


class Subscriber:
    """Live coefficients of some or all models, de-duplicated::

        for update in Subscriber("tcp://127.0.0.1:5556", models="demo"):
            print(update.seq, update.loss, update.coefficients.ravel())

    ``models``: a name, a list of names, or None for every model. A new subscription makes the daemon
    resend each matching model's latest message to *every* subscriber of it; the subscriber drops a
    ``seq`` it has already seen, so each update is yielded once. A ``seq`` lower than the last one is
    yielded with ``restarted=True`` (see :class:`Update`).

    Iterating ends after ``idle_timeout`` seconds without a coefficient message (None: never);
    :meth:`recv` raises :class:`~hebbd.HebbdTimeout` instead. ``events=True`` (the default) also
    subscribes to ``event/`` messages, kept (the latest 1000) for :meth:`events`/:meth:`recv_event`.
    Works with both ``publish.format``\\ s; ``curve`` as for :class:`~hebbd.Producer`.
    """

    def __init__(self, endpoint: str = "tcp://127.0.0.1:5556", models: Union[str, Iterable[str], None] = None, *,
                 events: bool = True, idle_timeout: Optional[float] = None, curve: Optional[CurveKeys] = None,
                 context: Optional[zmq.Context] = None, event_buffer: int = 1000) -> None:
        self.endpoint = endpoint
        self.models: Optional[List[str]] = [models] if isinstance(models, str) else (None if models is None else list(models))
        self.idle_timeout = idle_timeout
        self.last_seq: Dict[str, int] = {}
        self.received = 0
        self.duplicates = 0
        self._updates: Deque[Update] = collections.deque()
        self._events: Deque[Event] = collections.deque(maxlen=event_buffer)
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        if curve is not None:
            curve.apply(self._socket)
        names = self.models
        for prefix in ([f"coef/{m}/" for m in names] if names is not None else ["coef/"]):
            self._socket.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        if events:
            for prefix in ([f"event/{m}/" for m in names] + ["event/*/"] if names is not None else ["event/"]):
                self._socket.setsockopt(zmq.SUBSCRIBE, prefix.encode())
        self._socket.connect(endpoint)

    # -- receiving ------------------------------------------------------------------------------------

    def _pump(self, deadline: Optional[float]) -> bool:
        """Reads one message into the queues; False when ``deadline`` (monotonic) passed first."""
        while True:
            if deadline is None:
                ready = self._socket.poll(None)
            else:
                remaining = deadline - time.monotonic()
                ready = self._socket.poll(max(0, math.ceil(remaining * 1000)))
                if not ready and time.monotonic() >= deadline:
                    return False
            if not ready:
                continue
            frames = self._socket.recv_multipart()
            topic = frames[0]
            if topic.startswith(b"coef/") and len(frames) >= 2:
                self._accept(Update.from_frames(frames))
            elif topic.startswith(b"event/") and len(frames) >= 2:
                body = json.loads(frames[1])
                self._events.append(Event(model=str(body.get("model", "")), event=str(body.get("event", "")),
                                          time=body.get("time"), data=body))
            return True

    def _accept(self, update: Update) -> None:
        previous = self.last_seq.get(update.model)
        if previous is not None:
            if update.seq == previous:
                self.duplicates += 1
                return          # the last-value resend another subscription triggered: already seen
            if update.seq < previous:
                update.restarted = True
            else:
                update.missed = update.seq - previous - 1
        self.last_seq[update.model] = update.seq
        self.received += 1
        self._updates.append(update)

    def recv(self, timeout: Optional[float] = None) -> Update:
        """The next new update; raises :class:`~hebbd.HebbdTimeout` after ``timeout`` seconds (None: wait
        forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._updates:
            if not self._pump(deadline):
                raise HebbdTimeout(f"no coefficient message from {self.endpoint} within {timeout:g} s")
        return self._updates.popleft()

    def recv_event(self, timeout: Optional[float] = None) -> Event:
        """The next event; raises :class:`~hebbd.HebbdTimeout` after ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._events:
            if not self._pump(deadline):
                raise HebbdTimeout(f"no event from {self.endpoint} within {timeout:g} s")
        return self._events.popleft()

    def __iter__(self) -> Iterator[Update]:
        while True:
            try:
                yield self.recv(self.idle_timeout)
            except HebbdTimeout:
                return

    def events(self, idle_timeout: Optional[float] = None) -> Iterator[Event]:
        """Iterates over events (updates arriving meanwhile are kept for :meth:`recv`), ending after
        ``idle_timeout`` seconds without one (None: never)."""
        while True:
            try:
                yield self.recv_event(idle_timeout)
            except HebbdTimeout:
                return

    def wait_until(self, predicate: Callable[[Update], bool], timeout: float) -> Update:
        """Receives until an update satisfies ``predicate(update)`` and returns it (earlier updates are
        consumed); raises :class:`~hebbd.HebbdTimeout` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            u = self.recv(max(0.0, deadline - time.monotonic()))
            if predicate(u):
                return u

    def close(self) -> None:
        """Closes the socket."""
        if not self._socket.closed:
            self._socket.close(0)

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
