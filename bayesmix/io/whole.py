"""Files written whole or not at all: a temporary name beside the target, then a rename."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing"]


@contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """Yield a new path beside ``target``; on success it replaces ``target`` atomically.

    On any error or interrupt (Ctrl-C) the temporary file is removed and ``target`` is
    left as it was. A name beside the target, not ``mkstemp`` (whose files are private to
    their owner), so the rename stays on one file system.
    """
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
