"""How a command's failure reaches the user: one line on stderr and an exit
status, whichever way the command was parsed (click, or minictr.cli.entry)."""
from __future__ import annotations

import os
import sys


# docker's CLI: `run` and `create` exit 125 when the engine fails them
ENGINE_FAILURE_CODE = {"run": 125, "create": 125}


def report(exc: BaseException, default_code: int = 1) -> int | None:
    """Print exc's line; the exit status, or None when it is not ours to
    turn into a line (a bug under MINICTR_DEBUG=1, or a non-error exit).
    `default_code`: the status of a failure that carries no code of its own."""
    from minictr.errors import MinictrError
    if isinstance(exc, BrokenPipeError):
        return 141   # the reader went away (`| head`): quiet, as a shell's SIGPIPE death
    if isinstance(exc, MinictrError):
        code = getattr(exc, "exit_code", 1)
        line, code = f"Error: {exc}", default_code if code == 1 else code
    elif isinstance(exc, KeyboardInterrupt):
        line, code = "", 130
    elif isinstance(exc, Exception):   # a bug or an unforeseen OS error: still one line
        if os.environ.get("MINICTR_DEBUG"):
            return None
        line, code = f"Error: {type(exc).__name__}: {exc} (MINICTR_DEBUG=1 shows where)", default_code
    else:
        return None
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    return code
