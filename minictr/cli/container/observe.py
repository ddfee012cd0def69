"""Watching running containers: top and stats, rendered as docker does
(top's columns at least 20 wide, stats' table or one JSON object per line)."""
from __future__ import annotations

import json

import click

from minictr.errors import MinictrError

STATS_COLUMNS = (("CONTAINER ID", "ID"), ("NAME", "Name"), ("CPU %", "CPUPerc"),
                 ("MEM USAGE / LIMIT", "MemUsage"), ("MEM %", "MemPerc"), ("NET I/O", "NetIO"),
                 ("BLOCK I/O", "BlockIO"), ("PIDS", "PIDs"))


def _tabwriter(rows: list[list[str]], minwidth: int = 20, padding: int = 3) -> str:
    """Go's tabwriter(minwidth, padding): cells padded to their column's
    width, the last column as it is."""
    widths: list[int] = []
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            width = max(minwidth, len(cell) + padding)
            if i == len(widths):
                widths.append(width)
            else:
                widths[i] = max(widths[i], width)
    return "\n".join("".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + (row[-1] if row else "")
                     for row in rows)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def top(ctx, container, ps_args) -> None:
    """Display the running processes of a container."""
    from minictr.engine.stats import top as processes
    titles, rows = processes(ctx.engine, ctx.engine.lookup(container), list(ps_args))
    if titles:
        ctx.out(_tabwriter([titles] + rows))


@click.command()
@click.argument("containers", nargs=-1)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)")
@click.option("--no-stream", is_flag=True, help="Disable streaming stats and only pull the first result")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--format", "fmt", default=None, help="'table' (the default), 'json', or a template like '{{.Name}}'")
@click.pass_obj
def stats(ctx, containers, all_, no_stream, no_trunc, fmt) -> None:
    """Display a live stream of container(s) resource usage statistics."""
    from minictr.engine.stats import sample
    engine = ctx.engine
    if containers:
        missing, records = [], []
        for name in containers:
            try:
                records.append(engine.lookup(name))
            except MinictrError as e:
                missing.append(str(e))
        if missing:
            raise MinictrError("\n".join(missing))
    else:
        records = engine.list(all_=all_)
    while True:
        usages = sample(engine, [engine.refresh(r) for r in records])
        rows = [stats_row(u) for u in usages]
        if no_trunc:
            for row, u in zip(rows, usages):
                row["ID"] = row["Container"] = u.id
        text = _render(rows, fmt)
        if no_stream:
            if text:
                ctx.out(text)
            return
        ctx.stdout.write("\033[2J\033[H" + text + "\n")
        ctx.stdout.flush()
        if not containers:
            records = engine.list(all_=all_)


def _render(rows: list[dict], fmt: str | None) -> str:
    if fmt == "json":
        return "\n".join(json.dumps(r, separators=(",", ":")) for r in rows)
    if fmt and fmt != "table":
        from minictr.cli.container.manage import _go_template
        return "\n".join(_go_template(fmt, r) for r in rows)
    return _table(rows)


def _table(rows: list[dict]) -> str:
    from minictr.cli import render
    return render.table([h for h, _ in STATS_COLUMNS], [[r[k] for _, k in STATS_COLUMNS] for r in rows])


def stats_row(usage) -> dict:
    """docker stats' columns for one engine.stats.Usage."""
    from minictr.cli.render import human_size
    return {"BlockIO": f"{human_size(usage.block_read)} / {human_size(usage.block_write)}",
            "CPUPerc": f"{usage.cpu_percent:.2f}%", "Container": usage.id[:12], "ID": usage.id[:12],
            "MemPerc": f"{usage.mem_percent:.2f}%",
            "MemUsage": f"{bytes_size(usage.mem_usage)} / {bytes_size(usage.mem_limit)}",
            "Name": usage.name, "NetIO": f"{human_size(usage.net_rx)} / {human_size(usage.net_tx)}",
            "PIDs": str(usage.pids)}


def bytes_size(size: float) -> str:
    """go-units BytesSize (binary units, 4 significant digits): `1.234MiB`."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    i = 0
    while size >= 1024.0 and i < len(units) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{units[i]}"
