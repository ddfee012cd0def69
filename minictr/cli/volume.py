"""`minictr volume`: create, ls, inspect, rm, prune, as `docker volume`
has them; each a call into engine.system's volume functions."""
from __future__ import annotations


import click

from minictr.cli import render
from minictr.engine.options import parse_labels
from minictr.errors import MinictrError


@click.group()
def volume() -> None:
    """Manage volumes."""


@volume.command()
@click.argument("name", required=False)
@click.option("--name", "name_opt", default=None, help="Specify volume name")
@click.option("-d", "--driver", default="local", help="Specify volume driver name")
@click.option("--label", "labels", multiple=True, help="Set metadata for a volume")
@click.option("-o", "--opt", "opts", multiple=True, help="Set driver specific options (none for local)")
@click.pass_obj
def create(ctx, name, name_opt, driver, labels, opts) -> None:
    """Create a volume."""
    from minictr.engine.system import create_volume
    if name and name_opt and name != name_opt:
        raise MinictrError("conflicting options: either specify --name or provide positional arg, not both")
    if driver != "local":
        raise MinictrError(f"error looking up volume plugin {driver}: plugin \"{driver}\" not found")
    if opts:
        raise MinictrError("the local driver here takes no options (-o)")
    ctx.out(create_volume(ctx.engine, name or name_opt or "", parse_labels(list(labels))))


@volume.command(name="ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. 'dangling=true')")
@click.option("--format", "fmt", default=None, help="'json' for one JSON object per line")
@click.pass_obj
def ls(ctx, quiet, filters, fmt) -> None:
    """List volumes."""
    from minictr.engine.system import list_volumes
    dangling, names, labels = None, [], []
    for item in filters:
        key, sep, value = item.partition("=")
        if key == "dangling" and value in ("true", "false", "1", "0"):
            dangling = value in ("true", "1")
        elif key == "name" and sep:
            names.append(value)
        elif key == "label" and sep:
            labels.append(value)
        else:
            raise MinictrError(f"invalid filter '{item}'")
    items = list_volumes(ctx.engine, dangling)
    items = [v for v in items if not names or any(n in v["Name"] for n in names)]
    items = [v for v in items if all(_label_matches(v["Labels"], l) for l in labels)]
    rows = [{"Driver": v["Driver"], "Labels": _label_text(v["Labels"]), "Mountpoint": v["Mountpoint"],
             "Name": v["Name"], "Scope": v["Scope"]} for v in items]
    if render.ids_or_json(ctx, rows, quiet, fmt, id_key="Name"):
        return
    if fmt:
        raise MinictrError(f"unsupported format {fmt!r}: use json")
    ctx.out(render.table(["DRIVER", "VOLUME NAME"], [[v["Driver"], v["Name"]] for v in rows]))


def _label_matches(labels: dict, wanted: str) -> bool:
    key, eq, value = wanted.partition("=")
    return key in labels and (not eq or labels[key] == value)


def _label_text(labels: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


@volume.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="'json' (the default) or a {{.Field}} path")
@click.pass_obj
def inspect(ctx, names, fmt) -> None:
    """Display detailed information on one or more volumes."""
    from minictr.cli.documents import show
    from minictr.engine.system import inspect_volume
    show(ctx, names, fmt, lambda name: inspect_volume(ctx.engine, name))


@volume.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
@click.pass_obj
def rm(ctx, names, force) -> None:
    """Remove one or more volumes."""
    from minictr.cli.each import for_each
    from minictr.engine.system import remove_volume
    for_each(ctx, names, lambda name: bool(remove_volume(ctx.engine, name, force=force)))


@volume.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all unused volumes, not just anonymous ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_obj
def prune(ctx, all_, force) -> None:
    """Remove unused local volumes."""
    from minictr.engine.system import prune_volumes
    if not force and ctx.stdout_is_tty:
        what = "all local volumes not used by at least one container" if all_ else \
            "all anonymous local volumes not used by at least one container"
        if not click.confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?"):
            return
    names, size = prune_volumes(ctx.engine, all_=all_)
    if names:
        ctx.out("Deleted Volumes:\n" + "\n".join(names) + "\n")
    ctx.out(f"Total reclaimed space: {render.human_size(size)}")
