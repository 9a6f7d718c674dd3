"""Python client for hebbd, the streaming online-learning daemon (protocol v1, docs/PROTOCOL.md).

* :class:`Producer` — send numpy samples to the ingest socket (binary float32/float64 frames).
* :class:`Subscriber` — iterate over de-duplicated coefficient :class:`Update`\\ s and :class:`Event`\\ s.
* :class:`Control` — one method per control command; errors raise :class:`HebbdError`.
* :class:`CurveKeys` — CURVE keys (z85 strings or ``hebbd keygen`` files) for all three.
* :mod:`hebbd.testing` — :class:`~hebbd.testing.LocalDaemon`, a real ``hebbd run`` for tests.
"""

from .control import Control
from .curve import CurveKeys, read_key
from .errors import HebbdError, HebbdTimeout, NotTakingSamples, ShapeError
from .producer import Producer, sample_arrays
from .reliable import NotAcknowledged, ReliableProducer
from .subscriber import Event, Interval, Subscriber, Update

__version__ = "0.1.0"

__all__ = ["Control", "CurveKeys", "Event", "HebbdError", "HebbdTimeout", "Interval", "NotAcknowledged", "NotTakingSamples", "Producer",
           "ReliableProducer", "ShapeError", "Subscriber", "Update", "read_key", "sample_arrays", "__version__"]
