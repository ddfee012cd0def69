"""docker's auto-pull of a missing image (for `run`, `create`, `build`'s
FROM), its progress on stderr."""
from __future__ import annotations


def puller(ctx, platform: str | None, policy: str):
    """docker's auto-pull: `Unable to find image 'x' locally`, then a pull
    with progress on stderr."""
    if policy == "never":
        return None

    def pull(ref: str) -> None:
        from minictr.cli.progress_view import progress_for
        from minictr.image.pull import pull as do_pull
        from minictr.image.pull import parse_reference
        ctx.err(f"Unable to find image '{parse_reference(ref).familiar()}' locally")
        progress = progress_for(_StderrCtx(ctx))
        do_pull(ctx.images, ctx.registry, ref, platform=platform, progress=progress)
    return pull


class _StderrCtx:
    """Progress goes to stderr during `run`: stdout is the container's."""

    def __init__(self, ctx):
        self.stdout = ctx.stderr
        self.stdout_is_tty = ctx.stderr_is_tty
