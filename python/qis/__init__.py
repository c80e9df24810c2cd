"""qis from Python: draft outcome packets from training runs, publish them to the qis DHT,
query similar runs and turn their evidence into configuration.

Every function runs the ``qis`` binary the wheel ships (or ``$QIS_BIN``) with ``--json`` and
returns typed results; the command's exit codes become :class:`InputError` (bad input) and
:class:`NotFound` (nothing matched, nobody answered), both :class:`QisError`.

* :func:`from_run` -> :class:`Draft`; :func:`publish` -> :class:`Published`;
  :func:`query` -> list of :class:`Packet`; :func:`recommend` -> :class:`Recommendation`;
  :func:`reproduce` -> :class:`Reproduced`.
* ``qis.integrations.transformers.QisCallback``: a Trainer callback that drafts (and, if asked,
  publishes) at the end of training.
* ``qis.testing.LocalNetwork``: a few nodes on loopback for tests.
"""

from ._cli import binary
from .api import from_run, publish, query, recommend, reproduce
from .errors import InputError, NotFound, QisError
from .results import (
    Draft, Field, OptunaSpace, Origin, Packet, Published, Recommendation, Reproduced, StoredKey,
)

__all__ = [
    "binary", "from_run", "publish", "query", "recommend", "reproduce",
    "QisError", "InputError", "NotFound",
    "Draft", "Field", "Origin", "Packet", "Published", "Recommendation", "Reproduced", "OptunaSpace",
    "StoredKey",
]
