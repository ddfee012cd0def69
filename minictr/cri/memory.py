"""A long-running server's memory: glibc keeps what a pull's buffers
freed (layers decompressed, digests computed) in its arenas; malloc_trim
gives it back to the kernel, ~10 MiB after a pull. Fewer arenas keep
worker threads from each holding their own (M_ARENA_MAX)."""
from __future__ import annotations

import ctypes

try:
    _libc = ctypes.CDLL(None)
except OSError:   # not glibc: nothing to tune
    _libc = None


def few_arenas(count: int = 2) -> None:
    """Before any worker thread starts."""
    try:
        _libc.mallopt(-8, count)   # M_ARENA_MAX
    except AttributeError:
        pass


def trim() -> None:
    try:
        _libc.malloc_trim(0)
    except AttributeError:
        pass
