"""`minictr inspect` / `image inspect`: docker-shaped JSON, a list."""
import json

import click


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="'json' (the default) or a {{.Field}} path")
@click.pass_obj
def inspect(ctx, names, fmt) -> None:
    """Display detailed information on one or more images."""
    from minictr.cli.documents import show
    from minictr.image import views

    def find(name):
        record = ctx.images.records.find(name)
        return views.inspect(ctx.images, record) if record is not None else None
    show(ctx, names, fmt, find)


def _template(item: dict, fmt: str) -> str:
    """The subset of Go templates scripts use most: `{{.A.B}}` and `{{json .A}}`."""
    import re
    from minictr.errors import MinictrError

    def value(path: str):
        cur = item
        for part in [p for p in path.split(".") if p]:
            if not isinstance(cur, dict) or part not in cur:
                raise MinictrError(f"template: {fmt}: can't evaluate field {part}")
            cur = cur[part]
        return cur

    def sub(m):
        expr = m.group(1).strip()
        if expr.startswith("json "):
            return json.dumps(value(expr[5:].strip()), separators=(",", ":"))
        v = value(expr)
        if isinstance(v, list):
            return "[" + " ".join(str(x) for x in v) + "]"
        if isinstance(v, bool):
            return str(v).lower()
        if v is None:
            return "<no value>"
        return v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict) else str(v)
    return re.sub(r"\{\{(.*?)\}\}", sub, fmt)
