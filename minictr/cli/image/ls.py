"""`minictr images` / `image ls`: docker's columns, `-q`, `--digests`,
`--no-trunc`, `--filter dangling=…|reference=…`, `--format json`."""
from __future__ import annotations

import fnmatch

import click

from minictr.cli import render
from minictr.errors import MinictrError


def _filters(values: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or key not in ("dangling", "reference"):
            raise MinictrError(f"invalid filter {item!r}: supported are dangling=true|false and reference=PATTERN")
        if key == "dangling" and value not in ("true", "false"):
            raise MinictrError(f"invalid filter 'dangling={value}': expected true or false")
        out.setdefault(key, []).append(value)
    return out


def _keep(row: dict, filters: dict[str, list[str]], repo_arg: str | None) -> bool:
    if "dangling" in filters and row["Dangling"] != (filters["dangling"][-1] == "true"):
        return False
    name = f"{row['Repository']}:{row['Tag']}"
    if "reference" in filters and not any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(row["Repository"], p)
                                          for p in filters["reference"]):
        return False
    if repo_arg:
        repo, _, tag = repo_arg.partition(":")
        if row["Repository"] != repo or (tag and row["Tag"] != tag):
            return False
    return True


@click.command()
@click.argument("repository", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all images (no intermediate images exist here)")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter: dangling=true|false, reference=PATTERN")
@click.option("--format", "fmt", default=None, help="'json' for one JSON object per line")
@click.pass_obj
def images(ctx, repository, all_, quiet, digests, no_trunc, filters, fmt) -> None:
    """List images."""
    from minictr.image import views
    wanted = _filters(filters)
    if repository:
        from minictr.image.pull import parse_reference
        ref = parse_reference(repository) if ":" in repository.rsplit("/", 1)[-1] else None
        repository = ref.familiar() if ref else parse_reference(repository).familiar_name
    rows = [r for r in views.image_rows(ctx.images.records.all()) if _keep(r, wanted, repository)]
    ident = (lambda i: i) if no_trunc else (lambda i: i.split(":", 1)[1][:12])
    if quiet:
        seen = []
        for row in rows:
            if ident(row["ID"]) not in seen:
                seen.append(ident(row["ID"]))
        if seen:
            ctx.out("\n".join(seen))
        return
    if fmt == "json":
        items = [{"Containers": "N/A", "CreatedAt": row["CreatedAt"], "CreatedSince": render.ago(row["CreatedAt"]),
                  "Digest": row["Digest"], "ID": ident(row["ID"]), "Repository": row["Repository"],
                  "SharedSize": "N/A", "Size": render.human_size(row["Size"]), "Tag": row["Tag"],
                  "UniqueSize": "N/A", "VirtualSize": render.human_size(row["Size"])} for row in rows]
        if items:
            ctx.out(render.json_lines(items))
        return
    if fmt:
        raise MinictrError(f"unsupported --format {fmt!r}: use 'json'")
    headers = ["REPOSITORY", "TAG"] + (["DIGEST"] if digests else []) + ["IMAGE ID", "CREATED", "SIZE"]
    table = [[row["Repository"], row["Tag"]] + ([row["Digest"]] if digests else [])
             + [ident(row["ID"]), render.ago(row["CreatedAt"]), render.human_size(row["Size"])] for row in rows]
    ctx.out(render.table(headers, table))
