"""`--explain`: the Python side's kernel-level steps, in the same format the
C shim uses, so one trace tells the whole story. Off by default and cheap:
one attribute check per step."""
import os
import sys

_enabled = bool(os.environ.get("MINICTR_EXPLAIN"))


def enable() -> None:
    global _enabled
    _enabled = True


def enabled() -> bool:
    return _enabled


def step(what: str, why: str) -> None:
    """Never fails: a trace nobody reads any more (`--explain ... | head`)
    is switched off, and the steps it describes (a cleanup among them) go on."""
    global _enabled
    if _enabled:
        try:
            sys.stderr.write(f"  [pid {os.getpid()}] {what}: {why}\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            _enabled = False


def fd() -> int:
    """The fd the C shim writes its steps to (-1 when off)."""
    return sys.stderr.fileno() if _enabled else -1
