"""Container commands that act and report: ps, stop, kill, restart, rm,
wait, pause, unpause, rename, port, inspect. Each acts on several names as
docker does: the ones that work are printed, the failures reported after,
and the exit status is non-zero if any failed."""
from __future__ import annotations

import time

import click

from minictr.cli import render
from minictr.errors import MinictrError


def _each(ctx, names, action, echo: bool = True) -> None:
    """`action(record)` for each container named."""
    from minictr.cli.each import for_each
    for_each(ctx, names, lambda name: action(ctx.engine.lookup(name)) and None, echo)


def _filters(items) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in ("status", "name", "id", "label", "ancestor", "exited"):
            raise MinictrError(f"invalid filter '{item}'")
        out.append((key, value))
    return out


def _matches(rec, filters) -> bool:
    import re
    by_key: dict[str, list[str]] = {}
    for key, value in filters:
        by_key.setdefault(key, []).append(value)
    for key, values in by_key.items():
        if key == "status" and rec.status not in values:
            return False
        if key == "name" and not any(re.search(v, rec.name) for v in values):
            return False
        if key == "id" and not any(rec.id.startswith(v) for v in values):
            return False
        if key == "exited" and not (rec.status == "exited" and str(rec.exit_code) in values):
            return False
        if key == "ancestor" and rec.spec.image not in values and rec.image_id not in values:
            return False
        if key == "label":
            for v in values:
                k, eq, want = v.partition("=")
                if k not in rec.spec.labels or (eq and rec.spec.labels[k] != want):
                    return False
    return True


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "fmt", default=None, help="'json', or a Go-style template such as '{{.Names}}'")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container (includes all states)")
@click.pass_obj
def ps(ctx, all_, quiet, filters, fmt, no_trunc, last, latest) -> None:
    """List containers."""
    from minictr.cli.container import views
    wanted = _filters(filters)
    if latest:
        last = 1
    records = ctx.engine.list(all_=True)
    if not (all_ or last > 0 or any(k == "status" for k, _ in wanted)):
        records = [r for r in records if r.status in ("running", "paused", "restarting")]
    records = [r for r in records if _matches(r, wanted)]
    if last > 0:
        records = records[:last]
    now = time.time()
    rows = [views.ps_row(ctx.engine, r, now, no_trunc) for r in records]
    if render.ids_or_json(ctx, rows, quiet, fmt):
        return
    if fmt:
        for row in rows:
            ctx.out(_go_template(fmt, row))
        return
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    table = [[r["ID"], r["Image"], r["Command"], r["RunningFor"], r["Status"], r["Ports"], r["Names"]] for r in rows]
    ctx.out(render.table(headers, table))


def _go_template(fmt: str, row: dict) -> str:
    import re
    fmt = fmt.replace("table ", "", 1) if fmt.startswith("table ") else fmt

    def field(m) -> str:
        name = m.group(1)
        if name not in row:
            raise MinictrError(f"template: {fmt}: can't evaluate field {name}")
        return str(row[name])
    text = re.sub(r"\{\{\s*\.(\w+)\s*\}\}", field, fmt)
    return text.replace("\\t", "\t").replace("\\n", "\n")


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait before killing the container")
@click.option("-s", "--signal", "sig", default=None, help="Signal to send to the container")
@click.pass_obj
def stop(ctx, containers, timeout, sig) -> None:
    """Stop one or more running containers."""
    from minictr.engine.options import parse_signal
    number = parse_signal(sig) if sig else None
    _each(ctx, containers, lambda rec: ctx.engine.stop(rec, timeout, number))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.option("-t", "--time", "timeout", type=int, default=None, help="Seconds to wait before killing the container")
@click.pass_obj
def restart(ctx, containers, timeout) -> None:
    """Restart one or more containers."""
    engine = ctx.engine

    def act(rec):
        rec = engine.stop(rec, timeout)
        engine.start(rec)
    _each(ctx, containers, act)


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.option("-s", "--signal", "sig", default="KILL", help="Signal to send to the container")
@click.pass_obj
def kill(ctx, containers, sig) -> None:
    """Kill one or more running containers."""
    from minictr.engine.options import parse_signal
    number = parse_signal(sig)
    _each(ctx, containers, lambda rec: ctx.engine.kill(rec, number))


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container (uses SIGKILL)")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container")
@click.pass_obj
def rm(ctx, containers, force, volumes) -> None:
    """Remove one or more containers."""
    try:
        _each(ctx, containers, lambda rec: ctx.engine.remove(rec, force=force, volumes=volumes))
    finally:
        ctx.engine.sweep_orphans()   # what an earlier, killed removal may have left


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def wait(ctx, containers) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    _each(ctx, containers, lambda rec: ctx.out(str(ctx.engine.wait(rec))), echo=False)


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def pause(ctx, containers) -> None:
    """Pause all processes within one or more containers."""
    _each(ctx, containers, ctx.engine.pause)


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def unpause(ctx, containers) -> None:
    """Unpause all processes within one or more containers."""
    _each(ctx, containers, ctx.engine.unpause)


@click.command()
@click.argument("container")
@click.argument("new_name")
@click.pass_obj
def rename(ctx, container, new_name) -> None:
    """Rename a container."""
    from minictr.engine.options import valid_container_name
    rec = ctx.engine.lookup(container)
    if not valid_container_name(new_name):
        raise MinictrError(f"Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if new_name == rec.name:
        raise MinictrError("Renaming a container with the same name as its current name")
    ctx.engine.records.update(rec.id, name=new_name)


@click.command()
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_obj
def port(ctx, container, private_port) -> None:
    """List port mappings or a specific mapping for the container."""
    rec = ctx.engine.lookup(container)
    ports = (rec.network or {}).get("Ports") or {}
    if private_port:
        key = private_port if "/" in private_port else f"{private_port}/tcp"
        bindings = ports.get(key)
        if not bindings:
            raise MinictrError(f"No public port '{key}' published for {container}")
        ctx.out("\n".join(f"{b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}" for b in bindings))
        return
    lines = [f"{key} -> {b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}"
             for key, bindings in sorted(ports.items()) for b in (bindings or [])]
    if lines:
        ctx.out("\n".join(lines))


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="'json' (the default) or a {{.Field}} path")
@click.option("--type", "kind", type=click.Choice(["container", "image"]), default=None,
              help="Return JSON for specified type")
@click.pass_obj
def inspect(ctx, names, fmt, kind) -> None:
    """Return low-level information on containers and images."""
    from minictr.cli.documents import show
    from minictr.cli.container import views as container_views
    from minictr.image import views as image_views

    def find(name):
        if kind in (None, "container"):
            rec = ctx.engine.records.find(name)
            if rec is not None:
                return container_views.inspect(ctx.engine, ctx.engine.refresh(rec))
        if kind in (None, "image"):
            record = ctx.engine.images.records.find(name)
            if record is not None:
                return image_views.inspect(ctx.engine.images, record)
        return None
    show(ctx, names, fmt, find)


@click.command()
@click.option("-m", "--memory", default=None, help="Memory limit")
@click.option("--memory-swap", default=None, help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")
@click.option("--cpus", default=None, help="Number of CPUs")
@click.option("-c", "--cpu-shares", type=int, default=None, help="CPU shares (relative weight)")
@click.option("--cpu-quota", type=int, default=None, help="Limit CPU CFS (Completely Fair Scheduler) quota")
@click.option("--cpu-period", type=int, default=None, help="Limit CPU CFS (Completely Fair Scheduler) period")
@click.option("--cpuset-cpus", default=None, help="CPUs in which to allow execution (0-3, 0,1)")
@click.option("--cpuset-mems", default=None, help="MEMs in which to allow execution (0-3, 0,1)")
@click.option("--pids-limit", type=int, default=None, help="Tune container pids limit (-1 for unlimited)")
@click.option("--restart", default=None, help="Restart policy to apply when a container exits")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def update(ctx, memory, memory_swap, cpus, cpu_shares, cpu_quota, cpu_period, cpuset_cpus, cpuset_mems,
           pids_limit, restart, containers) -> None:
    """Update configuration of one or more containers."""
    from minictr.engine import options
    changes: dict = {}
    if memory is not None:
        changes["memory"] = options.parse_bytes(memory)
    if memory_swap is not None:
        changes["memory_swap"] = options.parse_memory_swap(memory_swap)
    if cpus is not None:
        changes["nano_cpus"] = options.parse_cpus(cpus)
    for key, value in (("cpu_shares", cpu_shares), ("cpu_quota", cpu_quota), ("cpu_period", cpu_period),
                       ("cpuset_cpus", cpuset_cpus), ("cpuset_mems", cpuset_mems)):
        if value is not None:
            changes[key] = value
    if pids_limit is not None:
        changes["pids_limit"] = max(pids_limit, 0)
    if restart is not None:
        changes["restart"], changes["restart_max"] = options.parse_restart(restart)
    if not changes:
        raise MinictrError("you must provide one or more flags when using this command")
    _each(ctx, containers, lambda rec: ctx.engine.update(rec, **changes))
