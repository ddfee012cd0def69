"""`minictr system`: df and prune over every kind of object, plus info and
version (the commands of cli/system.py), as `docker system` has them."""
from __future__ import annotations

import click

from minictr.cli import render
from minictr.cli.main import LazyGroup

SYSTEM_COMMANDS = {
    "df": "system_group:df",
    "prune": "system_group:prune",
    "reset": "system_group:reset",
    "info": "system:info",
    "version": "system:version",
}


@click.group(cls=LazyGroup, lazy=SYSTEM_COMMANDS)
def system() -> None:
    """Manage minictr."""


@click.command()
@click.option("--format", "fmt", default=None, help="'json' for one JSON object per line")
@click.pass_obj
def df(ctx, fmt) -> None:
    """Show minictr disk usage."""
    from minictr.engine.system import disk_usage
    rows = [usage_row(usage, percent=fmt != "json") for usage in disk_usage(ctx.engine)]
    if fmt == "json":
        ctx.out(render.json_lines(rows))
        return
    if fmt:
        from minictr.errors import MinictrError
        raise MinictrError(f"unsupported format {fmt!r}: use json")
    ctx.out(render.table(["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                         [[r["Type"], r["TotalCount"], r["Active"], r["Size"], r["Reclaimable"]] for r in rows]))


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused images not just dangling ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--volumes", is_flag=True, help="Prune anonymous volumes")
@click.pass_obj
def prune(ctx, all_, force, volumes) -> None:
    """Remove unused data."""
    from minictr.engine.system import prune as prune_all
    if not force and ctx.stdout_is_tty:
        lines = ["  - all stopped containers", "  - all networks not used by at least one container"]
        if volumes:
            lines.append("  - all anonymous volumes not used by at least one container")
        lines.append("  - all images without at least one container associated to them" if all_
                     else "  - all dangling images")
        lines.append("  - unused build cache")
        if not click.confirm("WARNING! This will remove:\n" + "\n".join(lines) +
                             "\n\nAre you sure you want to continue?"):
            return
    pruned = prune_all(ctx.engine, all_=all_, volumes=volumes)
    for title, items in (("Deleted Containers", pruned.containers), ("Deleted Networks", pruned.networks),
                         ("Deleted Volumes", pruned.volumes)):
        if items:
            ctx.out(f"{title}:\n" + "\n".join(items) + "\n")
    if pruned.images:
        ctx.out("Deleted Images:\n" + "\n".join(f"{verb.lower()}: {what}" for verb, what in pruned.images) + "\n")
    for warning in pruned.warnings:
        ctx.err(f"WARNING: {warning}")
    ctx.out(f"Total reclaimed space: {render.human_size(pruned.reclaimed)}")


@click.command()
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_obj
def reset(ctx, force) -> None:
    """Reset this root to its initial state (podman's system reset)."""
    from minictr.engine.system import reset as reset_root
    if not force:
        if not click.confirm(f"WARNING! This will remove all containers, networks, volumes and images of "
                             f"{ctx.root}, their bridges and rules, and the directory itself.\n"
                             f"Are you sure you want to continue?"):
            return
    for what in reset_root(ctx.engine):
        ctx.out(f"Removed {what}")


def usage_row(usage, percent: bool = True) -> dict:
    """One row of docker's `system df` for an engine.system.Usage."""
    from minictr.cli.render import human_size
    text = human_size(usage.reclaimable)
    if percent and usage.size > 0:
        text += f" ({usage.reclaimable * 100 // usage.size}%)"
    return {"Type": usage.kind, "TotalCount": str(usage.total), "Active": str(usage.active),
            "Size": human_size(usage.size), "Reclaimable": text}
