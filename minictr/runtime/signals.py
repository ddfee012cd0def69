"""Signal numbers, names and handlers, from the C module `_signal`.

`import signal` turns every constant into an enum member (importing enum,
~3 ms of each runtime start); the runtime needs only numbers, a name table
for `kill ID TERM`, and handlers for the signals it forwards."""
from __future__ import annotations

import _signal
from _signal import SIGCHLD, SIGKILL, SIGSTOP, SIGTERM, SIGURG, SIGWINCH  # noqa: F401
from _signal import signal as set_handler  # noqa: F401

from minictr.runtime.errors import RuntimeFailure

NUMBERS = {name: getattr(_signal, name) for name in dir(_signal)
           if name.startswith("SIG") and not name.startswith("SIG_") and isinstance(getattr(_signal, name), int)}

# what a foreground run/exec passes on to its process: all but those that
# cannot be caught and those that concern the runtime itself
FORWARDED = sorted({n for n in NUMBERS.values()} - {SIGKILL, SIGSTOP, SIGCHLD, SIGWINCH, SIGURG})


def parse(text: str) -> int:
    """`9`, `KILL`, `SIGKILL`, `sigterm`, as runc accepts them."""
    if text.isdigit():
        num = int(text)
        if 0 < num < 65:
            return num
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name in NUMBERS:
        return NUMBERS[name]
    raise RuntimeFailure(f"unknown signal {text!r}")
