"""Acknowledged, exactly-once ingest (DEALER → the daemon's ``endpoints.reliable`` ROUTER; docs/PROTOCOL.md,
"Reliable ingest")."""

from __future__ import annotations

import json
import struct
import time
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Tuple

import zmq

from .producer import sample_arrays

REQUEST_MAGIC = b"HBRQ"
REPLY_MAGIC = b"HBAK"
ACKNOWLEDGED, DUPLICATE, REJECTED, REFUSED, MALFORMED = range(5)
_STATUS = {ACKNOWLEDGED: "acknowledged", DUPLICATE: "duplicate", REJECTED: "rejected", REFUSED: "refused",
           MALFORMED: "malformed"}


class NotAcknowledged(Exception):
    """Messages the daemon did not acknowledge in time (``pending``: their sequence numbers, still in the outbox
    and resent by the next :meth:`ReliableProducer.flush`), or rejected as invalid (``rejected``: sequence number →
    the daemon's reason; never learned, dropped from the outbox)."""

    def __init__(self, pending: List[int], rejected: Mapping[int, str]) -> None:
        self.pending = list(pending)
        self.rejected = dict(rejected)
        parts = []
        if self.pending:
            parts.append(f"{len(self.pending)} message(s) not acknowledged (seq {self.pending[0]}…{self.pending[-1]})")
        if self.rejected:
            seq, reason = next(iter(self.rejected.items()))
            parts.append(f"{len(self.rejected)} rejected (first: seq {seq}: {reason})")
        super().__init__("; ".join(parts) or "not acknowledged")


def request_header(producer: str, seq: int) -> bytes:
    """The reliable header frame: ``HBRQ``, the sequence number (UInt64 LE), the producer name."""
    return REQUEST_MAGIC + struct.pack("<Q", seq) + producer.encode()


def parse_reply(frame: bytes) -> Tuple[int, int, int, str]:
    """``(status, seq, high_water_mark, reason)`` of a reply frame."""
    if len(frame) < 21 or frame[:4] != REPLY_MAGIC:
        raise ValueError(f"not a hebbd reliable reply: {frame[:32]!r}")
    status = frame[4]
    seq, mark = struct.unpack_from("<QQ", frame, 5)
    return status, seq, mark, frame[21:].decode("utf-8", "replace")


class ReliableProducer:
    """Sends samples so that each is learned **exactly once**, across daemon crashes and restarts::

        with ReliableProducer("tcp://127.0.0.1:5558", producer="sensor-1") as p:
            for X, Y in batches:
                p.send("demo", X, Y)
            p.flush()          # returns once every message is acknowledged (journaled and synced by the daemon)

    * ``producer``: the durable name (``A–Z a–z 0–9 _ . -``, ≤ 64 bytes); one connection at a time per name.
    * ``seq``: the first sequence number. The daemon takes only its mark + 1 next (any number on first contact), drops
      numbers at or below the mark as duplicates and refuses higher ones; a restarted producer whose numbers are above
      mark + 1 renumbers its outbox from the mark the refusal carries. The default (microseconds since the epoch) keeps
      a restarted producer's numbers above its old ones.
    * ``max_outbox``: unacknowledged messages kept for resending; :meth:`send` waits for acknowledgements when it is
      full (``timeout``, then :class:`NotAcknowledged`).
    * ``resend_after``: seconds without any reply while messages are pending before the connection is made anew and
      every unacknowledged message is resent (a restarted daemon loses what was in flight on the old connection).
    """

    def __init__(self, endpoint: str, producer: str, *, seq: Optional[int] = None, max_outbox: int = 10_000,
                 timeout: float = 60.0, resend_after: float = 1.0, dtype: str = "float32",
                 dims: Optional[Mapping[str, Tuple[int, int]]] = None, context: Optional[zmq.Context] = None) -> None:
        name = producer.encode()
        if not (1 <= len(name) <= 64) or not all(chr(c).isascii() and (chr(c).isalnum() or chr(c) in "_.-") for c in name):
            raise ValueError(f"producer must be 1–64 characters of A–Z a–z 0–9 _ . -, not {producer!r}")
        if max_outbox < 1:
            raise ValueError("max_outbox must be ≥ 1")
        self.endpoint = endpoint
        self.producer = producer
        self.next_seq = seq if seq is not None else time.time_ns() // 1000
        if not 1 <= self.next_seq < 2 ** 63:
            raise ValueError("seq must be in 1 … 2^63-1")
        self.max_outbox = max_outbox
        self.timeout = timeout
        self.resend_after = resend_after
        self.dtype = dtype
        self.dims: Dict[str, Tuple[int, int]] = dict(dims or {})
        self.outbox: "OrderedDict[int, List[bytes]]" = OrderedDict()
        self.rejected: Dict[int, str] = {}
        self.acknowledged = 0
        self.duplicates = 0
        self.resends = 0
        self.high_water_mark = 0
        self._context = context or zmq.Context.instance()
        self._socket: Optional[zmq.Socket] = None
        self._last_progress = time.monotonic()
        self._refused_at: Optional[float] = None
        self._connect()

    # -- sending --------------------------------------------------------------------------------------

    def send(self, model: str, X: Any, Y: Any, header: Optional[Mapping[str, Any]] = None) -> int:
        """Queues and sends one message; returns its sequence number. Waits while the outbox is full."""
        x, y = sample_arrays(X, Y, dtype=self.dtype, dims=self.dims.get(model))
        body = {"dtype": self.dtype, "rows": int(x.shape[0])}
        body.update(header or {})
        frames = [model.encode(), json.dumps(body).encode(), x.tobytes(), y.tobytes()]
        deadline = time.monotonic() + self.timeout
        while len(self.outbox) >= self.max_outbox:
            if not self._pump(min(0.1, max(0.0, deadline - time.monotonic()))) and time.monotonic() > deadline:
                raise NotAcknowledged(list(self.outbox), self.rejected)
        seq = self.next_seq
        self.next_seq += 1
        self.outbox[seq] = frames
        self._send(seq, frames)
        self._pump(0)
        return seq

    def flush(self, timeout: Optional[float] = None) -> None:
        """Returns once every message sent is acknowledged; raises :class:`NotAcknowledged` with what is not (after
        ``timeout`` seconds, default the producer's) or what the daemon rejected."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.outbox and time.monotonic() < deadline:
            self._pump(min(0.05, max(0.0, deadline - time.monotonic())))
        if self.outbox or self.rejected:
            error = NotAcknowledged(list(self.outbox), self.rejected)
            self.rejected = {}
            raise error

    @property
    def pending(self) -> int:
        """Messages not acknowledged yet."""
        return len(self.outbox)

    # -- the connection -------------------------------------------------------------------------------

    def _connect(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
        s = self._context.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, 0)
        s.connect(self.endpoint)
        self._socket = s
        self._last_progress = time.monotonic()

    def _send(self, seq: int, frames: List[bytes]) -> None:
        assert self._socket is not None
        self._socket.send_multipart([request_header(self.producer, seq)] + frames, copy=False)

    def _pump(self, wait: float) -> bool:
        """Reads replies (waiting up to ``wait`` s for the first); resends everything when nothing came back for
        ``resend_after`` s. Returns whether a reply arrived."""
        assert self._socket is not None
        got = False
        if self._socket.poll(int(wait * 1000)):
            while True:
                try:
                    frame = self._socket.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got = self._handle(*parse_reply(frame)) or got
        if got:
            self._last_progress = time.monotonic()
        if self._refused_at is not None and time.monotonic() - self._refused_at > 0.2:
            # Refused (journal full): the daemon refuses everything after it until it comes again; resend all.
            self._refused_at = None
            for seq, frames in self.outbox.items():
                self._send(seq, frames)
                self.resends += 1
        elif not got and self.outbox and time.monotonic() - self._last_progress > self.resend_after:
            # No reply for a while: the daemon may have restarted (what was in flight is gone). Reconnect, resend all.
            self._connect()
            for seq, frames in self.outbox.items():
                self._send(seq, frames)
                self.resends += 1
        return got

    def _handle(self, status: int, seq: int, mark: int, reason: str) -> bool:
        """Applies one reply; returns whether it was progress (anything but a refusal)."""
        if status == MALFORMED:
            raise ValueError(f"the daemon could not read a request: {reason}")
        if status == REJECTED:
            self.outbox.pop(seq, None)
            self.rejected[seq] = reason
        elif status == REFUSED:
            # Journal full, or out of order (a message before it was lost in flight when the daemon restarted): resend
            # everything from the oldest shortly. A producer restarted with new numbers above the daemon's mark + 1
            # (none of its messages can be journaled: the mark would cover them) renumbers its outbox to follow the mark.
            if self.outbox and next(iter(self.outbox)) > mark + 1:
                frames = list(self.outbox.values())
                self.outbox = OrderedDict((mark + 1 + i, f) for i, f in enumerate(frames))
                self.next_seq = mark + 1 + len(frames)
            if self._refused_at is None:
                self._refused_at = time.monotonic()
            return False
        elif status == DUPLICATE:
            self.duplicates += 1
        elif status == ACKNOWLEDGED:
            self.acknowledged += 1
        self.high_water_mark = max(self.high_water_mark, mark)
        while self.outbox:
            first = next(iter(self.outbox))
            if first > mark:
                break
            del self.outbox[first]
        return True

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self) -> "ReliableProducer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
