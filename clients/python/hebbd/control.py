"""hebbd's control socket (REQ → the daemon's REP): one JSON request, one JSON reply."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import zmq

from .curve import CurveKeys
from .errors import HebbdError, HebbdTimeout
from .subscriber import Update


class Control:
    """One method per control command (docs/PROTOCOL.md, "Control")::

        c = Control("tcp://127.0.0.1:5557")
        c.status()["models"]["demo"]["step"]
        c.set("demo", lr=0.05)

    A reply ``{"ok": false, "error": …}`` raises :class:`~hebbd.HebbdError` with the daemon's message.
    No reply within ``timeout`` seconds raises :class:`~hebbd.HebbdTimeout`; the REQ socket is then
    closed (its unsent request discarded) and a fresh one connected, so the next request works —
    a late reply to the abandoned request can never be taken for the next one's. (The abandoned
    request may still have been carried out if it had reached the daemon.)
    """

    def __init__(self, endpoint: str = "tcp://127.0.0.1:5557", *, timeout: float = 10.0,
                 curve: Optional[CurveKeys] = None, context: Optional[zmq.Context] = None) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._curve = curve
        self._context = context or zmq.Context.instance()
        self._socket: Optional[zmq.Socket] = None
        self._connect()

    def _connect(self) -> None:
        s = self._context.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        if self._curve is not None:
            self._curve.apply(s)
        s.connect(self.endpoint)
        self._socket = s

    def request(self, request: Mapping[str, Any], timeout: Optional[float] = None, *,
                check: bool = True) -> Dict[str, Any]:
        """Sends one request (a dict with ``"cmd"``) and returns the whole reply (``ok`` true).

        Raises :class:`~hebbd.HebbdError` for ``ok: false`` (with ``check=False``: returns that reply as it
        is, for tests of the error replies), :class:`~hebbd.HebbdTimeout` after ``timeout`` (default: the
        constructor's) seconds without a reply."""
        frames = self.exchange([json.dumps(request).encode()], timeout, what=repr(request.get("cmd")))
        try:
            reply = json.loads(frames[0])
        except ValueError:
            raise HebbdError(f"reply is not JSON: {frames[0][:200]!r}", request=request) from None
        if not check and isinstance(reply, dict):
            return reply
        if not isinstance(reply, dict) or reply.get("ok") is not True:
            message = reply.get("error", "request failed") if isinstance(reply, dict) else str(reply)
            raise HebbdError(str(message), request=request, reply=reply if isinstance(reply, dict) else None)
        return reply

    def exchange(self, frames: List[bytes], timeout: Optional[float] = None, *, what: str = "a request") -> List[bytes]:
        """Sends ``frames`` as they are (any bytes: the tests' malformed requests) and returns the reply's
        frames. :class:`~hebbd.HebbdTimeout` after ``timeout`` seconds without a reply, the socket replaced."""
        if self._socket is None:
            raise ValueError("Control is closed")
        wait = self.timeout if timeout is None else timeout
        try:
            sent = self._socket.poll(int(wait * 1000), zmq.POLLOUT)
            if sent:
                self._socket.send_multipart(frames, zmq.NOBLOCK)
                got = self._socket.poll(int(wait * 1000), zmq.POLLIN)
            if not sent or not got:
                raise zmq.Again()
            return list(self._socket.recv_multipart(zmq.NOBLOCK))
        except zmq.Again:
            # A REQ socket that sent without receiving cannot send again: start over with a new one.
            self._socket.close(0)
            self._connect()
            raise HebbdTimeout(f"no reply from {self.endpoint} to {what} within {wait:g} s") from None

    # -- the commands ---------------------------------------------------------------------------------

    def status(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Counters and per-model state: ``uptime``, ``messages``, ``samples``, ``updates``, ``published``,
        ``rejected`` {reason: n}, ``models`` {name: {step, samples, seq, loss, prequential_mse, buffered,
        batch_size, rejected, gaps, sequence_resets}}."""
        return self.request({"cmd": "status"}, timeout)

    def models(self, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """Each model's description (name, kind, dict_dim, sys_dim, batch_size, lr, lmbda, …)."""
        return list(self.request({"cmd": "models"}, timeout)["models"])

    def snapshot(self, model: str, timeout: Optional[float] = None) -> Update:
        """The model's latest published coefficient message (coefficients always inline)."""
        return Update.from_json(self.request({"cmd": "snapshot", "model": model}, timeout)["snapshot"])

    def predict(self, model: str, X: Any, timeout: Optional[float] = None) -> np.ndarray:
        """Predictions from the published (thresholded) coefficients: rows × sys_dim. ``X`` is rows ×
        dict_dim, or 1-D for one row."""
        return self.predict_with_std(model, X, timeout)[0]

    def predict_with_std(self, model: str, X: Any, timeout: Optional[float] = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """``(y, y_std)``: :meth:`predict`'s rows × sys_dim predictions and, for a model with uncertainty
        (``kind = "bayesian"``, or ``uncertainty = true``), the predictive standard deviations (noise included) of
        the same shape; None for a model without."""
        x = np.asarray(X, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2:
            raise ValueError(f"X must be 2-D (rows × dict_dim) or one row, got shape {x.shape}")
        reply = self.request({"cmd": "predict", "model": model, "x": x.tolist()}, timeout)
        y = np.asarray(reply["y"], dtype=np.float64).reshape(x.shape[0], -1)
        y_std = reply.get("y_std")
        return y, None if y_std is None else np.asarray(y_std, dtype=np.float64).reshape(y.shape)

    def checkpoint(self, model: Optional[str] = None, timeout: Optional[float] = None) -> Dict[str, str]:
        """Writes checkpoints (of every model, or one) and returns ``{model: path}`` once they are synced."""
        request: Dict[str, Any] = {"cmd": "checkpoint"}
        if model is not None:
            request["model"] = model
        return dict(self.request(request, timeout).get("written", {}))

    def reset(self, model: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Puts the model back to its initial weights (clears optimiser state and buffered rows)."""
        return self.request({"cmd": "reset", "model": model}, timeout)

    def set(self, model: str, *, timeout: Optional[float] = None, **params: float) -> Dict[str, Any]:
        """Changes hyper-parameters live (any of ``lr``, ``lmbda``, ``l1_ratio``, ``threshold``,
        ``epochs``); returns the model's new description."""
        return dict(self.request({"cmd": "set", "model": model, **params}, timeout)["model"])

    def add(self, model: Mapping[str, Any], timeout: Optional[float] = None) -> Dict[str, Any]:
        """Adds a model from a ``[[model]]`` table given as a dict (same keys and checks as the config
        file, e.g. ``{"name": "m2", "kind": "ridge", "dict_dim": 5}``); returns its description."""
        return dict(self.request({"cmd": "add", "model": dict(model)}, timeout)["model"])

    def remove(self, model: str, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Checkpoints the model one last time and drops it."""
        return self.request({"cmd": "remove", "model": model}, timeout)

    def close(self) -> None:
        """Closes the socket."""
        if self._socket is not None:
            self._socket.close(0)
            self._socket = None

    def __enter__(self) -> "Control":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
