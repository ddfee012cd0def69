"""Which display a build's progress gets, by docker's rules: --progress
plain, tty or quiet; `auto` (the default) takes BUILDKIT_PROGRESS when it
is set, then tty when stderr is a terminal, plain when it is not; tty
asked for without a terminal is an error, as docker's "failed to get
console"."""
from __future__ import annotations

from minictr.build.errors import BuildError
from minictr.build.progress import Progress

MODES = ("auto", "plain", "tty", "quiet")


def mode_for(flag: str, environ: dict, is_tty: bool) -> str:
    """plain, tty or quiet: what `--progress FLAG` shows here."""
    mode = flag
    if mode == "auto" and environ.get("BUILDKIT_PROGRESS"):
        mode = environ["BUILDKIT_PROGRESS"]
        if mode not in MODES:
            raise BuildError(f"BUILDKIT_PROGRESS={mode}: invalid progress mode (expected {', '.join(MODES)})")
    if mode == "auto":
        return "tty" if is_tty else "plain"
    if mode == "tty" and not is_tty:
        raise BuildError("--progress tty: failed to get console: stderr is not a terminal")
    return mode


def progress_for(mode: str, out):
    """The display for a mode_for() answer, writing to `out`."""
    if mode == "tty":
        from minictr.build.progress_tty import TtyProgress
        return TtyProgress(out)
    return Progress(out, quiet=mode == "quiet")
