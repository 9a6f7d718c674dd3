"""The exceptions the hebbd client raises."""

from __future__ import annotations

from typing import Any, Mapping, Optional


class HebbdError(Exception):
    """The daemon answered a control request with ``{"ok": false, "error": …}``.

    ``message`` is the daemon's own text (e.g. ``no model named "x"``), ``request`` the request that
    failed and ``reply`` the whole reply.
    """

    def __init__(self, message: str, *, request: Optional[Mapping[str, Any]] = None,
                 reply: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = dict(request) if request is not None else None
        self.reply = dict(reply) if reply is not None else None


class HebbdTimeout(TimeoutError):
    """No reply (control) or no message (subscriber) arrived in time.

    A subclass of the built-in :class:`TimeoutError`. After a control timeout the client has already
    replaced its REQ socket, so the next request works normally.
    """


class NotTakingSamples(TimeoutError):
    """The ingest socket did not take a sample message: no daemon is connected (yet), or the daemon is
    behind and its queue is full (ZeroMQ's ``EAGAIN``). Nothing of the message was queued, and a
    producer's ``seq`` was not used up, so the same call may simply be retried."""


class ShapeError(ValueError):
    """``X`` and ``Y`` do not make a valid sample message (caught before anything is sent)."""
