"""sha256 without loading OpenSSL for a little data. ``hashlib`` loads OpenSSL: ~11 M
instructions, ~5 % of ``aml experiment submit``, whose digests are all of a few hundred bytes
(a manifest's listing, a binding's key, an ignore chain) or of files the hash cache already
knows. OpenSSL's sha256 is ~6x faster per byte and releases the GIL, so it is used once it is
loaded anyway, and for data large enough that the load pays (~1 MiB)."""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hashlib import _Hash

try:
    from _sha2 import sha256 as _builtin  # Python >= 3.12
except ImportError:
    try:
        from _sha256 import sha256 as _builtin  # Python 3.10, 3.11
    except ImportError:                   # an interpreter built without its own hashes
        _builtin = None

#: bytes from which OpenSSL's speed repays its load (~3 ms)
LOAD_PAYS = 1 << 20


def sha256(size: int = 0) -> _Hash:
    """A new sha256 object for ``size`` bytes (same digests either way)."""
    if _builtin is not None and size < LOAD_PAYS and "hashlib" not in sys.modules:
        return _builtin()
    import hashlib  # OpenSSL: for much data, or loaded already (see above)
    return hashlib.sha256()


def sha256_hex(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    h = sha256(len(data))
    h.update(data)
    return h.hexdigest()
