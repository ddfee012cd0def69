"""`minictr network ...`: docker's network commands over minictr.network
(bridge networks; `host` and `none` are listed as docker lists them)."""
from __future__ import annotations

import hashlib

import click

from minictr.cli import render
from minictr.errors import MinictrError

_PSEUDO = ("host", "none")


def _pseudo_id(name: str) -> str:
    return hashlib.sha256(f"minictr-network-{name}".encode()).hexdigest()


@click.group()
def network() -> None:
    """Manage networks."""


@network.command("create")
@click.argument("name")
@click.option("-d", "--driver", default="bridge", help="Driver to manage the Network (bridge only)")
@click.option("--subnet", default=None, help="Subnet in CIDR format that represents a network segment")
@click.option("--gateway", default=None, help="IPv4 Gateway for the master subnet")
@click.option("--label", "labels", multiple=True, help="Set metadata on a network")
@click.option("--internal", is_flag=True, help="Restrict external access to the network")
@click.pass_obj
def create(ctx, name, driver, subnet, gateway, labels, internal) -> None:
    """Create a network."""
    from minictr.engine.options import parse_labels
    if driver != "bridge":
        raise MinictrError(f"plugin \"{driver}\" not found: only the bridge driver exists here")
    net = ctx.engine.networks.create(name, subnet=subnet, gateway=gateway, labels=parse_labels(list(labels)),
                                     internal=internal)
    ctx.out(net.id)


@network.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs")
@click.option("--format", "fmt", default=None, help="'json' for one JSON object per line")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter: name=NAME, driver=DRIVER")
@click.pass_obj
def ls(ctx, quiet, fmt, no_trunc, filters) -> None:
    """List networks."""
    nets = ctx.engine.networks.list()
    rows = [{"ID": n.id, "Name": n.name, "Driver": n.driver, "Scope": "local", "CreatedAt": n.created,
             "Internal": str(n.internal).lower(), "Labels": ",".join(f"{k}={v}" for k, v in n.labels.items())}
            for n in nets]
    rows += [{"ID": _pseudo_id(n), "Name": n, "Driver": "host" if n == "host" else "null", "Scope": "local",
              "CreatedAt": "", "Internal": "false", "Labels": ""} for n in _PSEUDO]
    for item in filters:
        key, _, value = item.partition("=")
        if key not in ("name", "driver", "id"):
            raise MinictrError(f"invalid filter '{item}'")
        field = {"name": "Name", "driver": "Driver", "id": "ID"}[key]
        rows = [r for r in rows if (value in r[field] if key == "name" else r[field].startswith(value)
                                    if key == "id" else r[field] == value)]
    rows.sort(key=lambda r: r["Name"])
    for row in rows:
        if not no_trunc:
            row["ID"] = row["ID"][:12]
    if render.ids_or_json(ctx, rows, quiet, fmt):
        return
    if fmt:
        raise MinictrError(f"unsupported --format {fmt!r}: use 'json'")
    ctx.out(render.table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                         [[r["ID"], r["Name"], r["Driver"], r["Scope"]] for r in rows]))


@network.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(ctx, names) -> None:
    """Display detailed information on one or more networks."""
    from minictr.cli.documents import show
    nets = ctx.engine.networks
    show(ctx, names, None, lambda name: nets.inspect(nets.get(name)))


@network.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def rm(ctx, names) -> None:
    """Remove one or more networks."""
    from minictr.cli.each import for_each
    for_each(ctx, names, ctx.engine.networks.remove)


@network.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_obj
def prune(ctx, force) -> None:
    """Remove all unused networks."""
    removed = ctx.engine.networks.prune()
    if removed:
        ctx.out("Deleted Networks:\n" + "\n".join(removed))
