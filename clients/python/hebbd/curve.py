"""CURVE keys for clients of a daemon with ``security.curve = true``.

``hebbd keygen --out DIR --name NAME`` writes ``NAME.key`` (the secret key) and ``NAME.pub`` (the public
key), each one z85 line (40 characters). A client needs the daemon's public key and its own key pair,
whose public half must be a file in the daemon's ``authorized_keys_dir``::

    keys = CurveKeys.load(server="keys/server.pub", client="keys/alice")   # alice.pub + alice.key
    keys = CurveKeys(server_public="rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                     public="Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", secret="D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import zmq
from zmq.utils import z85

#: A z85 key (40 characters, ``str`` or ``bytes``) or the path of a file holding one.
KeySource = Union[str, bytes, "os.PathLike[str]"]


def read_key(source: KeySource) -> bytes:
    """A z85 key from a 40-character string/bytes, or from the file it names (``hebbd keygen``'s
    ``.pub``/``.key`` files: one line). Raises ``ValueError`` for anything else."""
    if isinstance(source, bytes):
        text = source.decode("ascii", "replace").strip()
    elif isinstance(source, str) and len(source.strip()) == 40 and not os.path.exists(source):
        text = source.strip()
    else:
        path = Path(source)
        try:
            text = path.read_text(encoding="ascii").strip()
        except OSError as e:
            raise ValueError(f"CURVE key {str(source)!r}: not a 40-character z85 key, and cannot read it as a file: {e}") from None
        if len(text) != 40:
            raise ValueError(f"CURVE key file {path}: expected one 40-character z85 key, got {len(text)} characters")
    if len(text) != 40:
        raise ValueError(f"CURVE key: expected 40 z85 characters, got {len(text)}")
    try:
        z85.decode(text)
    except Exception:
        raise ValueError(f"CURVE key {text[:6]}…: not valid z85") from None
    return text.encode("ascii")


@dataclass(frozen=True)
class CurveKeys:
    """A CURVE client's keys: the daemon's public key and the client's own pair (z85 bytes).

    The constructor takes z85 strings/bytes or key file paths for each key."""

    server_public: bytes
    public: bytes
    secret: bytes

    def __init__(self, server_public: KeySource, public: KeySource, secret: KeySource) -> None:
        object.__setattr__(self, "server_public", read_key(server_public))
        object.__setattr__(self, "public", read_key(public))
        object.__setattr__(self, "secret", read_key(secret))

    @classmethod
    def load(cls, server: KeySource, client: Union[str, "os.PathLike[str]", None] = None, *,
             public: Optional[KeySource] = None, secret: Optional[KeySource] = None) -> "CurveKeys":
        """Keys as ``hebbd keygen`` writes them: ``server`` is the daemon's public key (``server.pub``
        or the key itself); ``client`` is a path stem, ``STEM.pub`` and ``STEM.key`` (or give
        ``public=`` and ``secret=``)."""
        if client is not None:
            stem = os.fspath(client)
            public = public if public is not None else stem + ".pub"
            secret = secret if secret is not None else stem + ".key"
        if public is None or secret is None:
            raise ValueError("CurveKeys.load needs client=STEM or both public= and secret=")
        return cls(server, public, secret)

    @classmethod
    def generate(cls, server: KeySource) -> "CurveKeys":
        """A fresh client key pair (to be authorized on the daemon: write ``public`` into a file in its
        ``authorized_keys_dir``) for the daemon whose public key is ``server``."""
        public, secret = zmq.curve_keypair()
        return cls(server, public, secret)

    def apply(self, socket: zmq.Socket) -> None:
        """Makes ``socket`` a CURVE client of the daemon (before ``connect``)."""
        socket.curve_serverkey = self.server_public
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret
