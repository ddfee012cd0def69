"""docker's way with several names: act on each, print the name of each one
that worked, report the failures together after, and fail if any failed."""
from __future__ import annotations

from minictr.errors import MinictrError


def for_each(ctx, names, action, echo: bool = True) -> None:
    """`action(name)` for each name; a false return means nothing to print."""
    failed = []
    for name in names:
        try:
            done = action(name)
            if echo and done is not False:
                ctx.out(name)
        except MinictrError as e:
            failed.append(str(e))
    if failed:
        raise MinictrError("\n".join(failed))
