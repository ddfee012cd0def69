"""How a command's failure reaches the user: one line on stderr and an exit
status, whichever way the command was parsed (click, or minictr.cli.entry)."""
from __future__ import annotations

import os
import sys


def report(exc: BaseException) -> int | None:
    """Print exc's line; the exit status, or None when it is not ours to
    turn into a line (a bug under MINICTR_DEBUG=1, or a non-error exit)."""
    from minictr.errors import MinictrError
    if isinstance(exc, BrokenPipeError):
        return 141   # the reader went away (`| head`): quiet, as a shell's SIGPIPE death
    if isinstance(exc, MinictrError):
        line, code = f"Error: {exc}", getattr(exc, "exit_code", 1)
    elif isinstance(exc, KeyboardInterrupt):
        line, code = "", 130
    elif isinstance(exc, Exception):   # a bug or an unforeseen OS error: still one line
        if os.environ.get("MINICTR_DEBUG"):
            return None
        line, code = f"Error: {type(exc).__name__}: {exc} (MINICTR_DEBUG=1 shows where)", 1
    else:
        return None
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return code
