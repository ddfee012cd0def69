"""Random IDs and choices from the kernel's generator: what `secrets` does,
without its import (hmac and hashlib, ~4 ms of every container start)."""
from __future__ import annotations

import os


def new_id() -> str:
    """64 hex characters, docker's container and volume IDs."""
    return os.urandom(32).hex()


def is_id(text: str) -> bool:
    """A full container ID (what new_id makes)."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def below(n: int) -> int:
    """A uniform integer in [0, n)."""
    limit = (1 << 64) - ((1 << 64) % n)
    while True:
        value = int.from_bytes(os.urandom(8), "little")
        if value < limit:
            return value % n


def choice(items):
    return items[below(len(items))]
