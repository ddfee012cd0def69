"""`inspect` output for any kind of object: a JSON list (docker's shape), or
one line per object from a `{{.Field}}` template; the names not found are
reported together after, with docker's wording for the kind."""
from __future__ import annotations

import json

from minictr.errors import MinictrError


def show(ctx, names, fmt: str | None, find, missing: str = "No such object: {}") -> None:
    """`find(name)` gives the document or None (or raises MinictrError)."""
    from minictr.cli.image.inspect import _template
    results, failed = [], []
    for name in names:
        try:
            item = find(name)
        except MinictrError as e:
            failed.append(str(e))
            continue
        if item is None:
            failed.append(missing.format(name))
        else:
            results.append(item)
    if fmt and fmt != "json":
        for item in results:
            ctx.out(_template(item, fmt))
    else:
        ctx.out(json.dumps(results, indent=4))
    if failed:
        raise MinictrError("\n".join(failed))
