"""`minictr version` and `minictr info`: what this minictr is and what
the host offers containers."""
from __future__ import annotations

import json
import platform

import click

from minictr import __version__


@click.command()
def version() -> None:
    """Show the version of minictr and its runtime."""
    click.echo(f"minictr version {__version__}")
    click.echo(f" Runtime:  minictr-runtime {__version__} (OCI runtime spec 1.0.2)")
    click.echo(f" Python:   {platform.python_version()}")
    click.echo(f" OS/Arch:  {platform.system().lower()}/{platform.machine()}")


def host_info() -> dict:
    from minictr.runtime.cgroups.hierarchy import mounted_hierarchies, unified_mode
    hierarchies = mounted_hierarchies()
    v1 = sorted(",".join(h.controllers) for h in hierarchies if h.version == 1)
    return {
        "ServerVersion": __version__,
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "Architecture": platform.machine(),
        "CgroupVersion": "2" if unified_mode(hierarchies) else "1",
        "CgroupDriver": "cgroupfs",
        "CgroupControllersV1": v1,
        "DefaultRuntime": "minictr-runtime",
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.system()


def _counts(engine) -> dict:
    """docker info's container and image counts."""
    records = engine.list(all_=True)
    running = sum(1 for r in records if r.status in ("running", "restarting"))
    paused = sum(1 for r in records if r.status == "paused")
    return {"Containers": len(records), "ContainersRunning": running, "ContainersPaused": paused,
            "ContainersStopped": len(records) - running - paused, "Images": len(engine.images.records.all())}


@click.command()
@click.option("--format", "fmt", default=None, help="'json' for scripts")
@click.pass_obj
def info(ctx, fmt: str | None) -> None:
    """Show what this host offers containers (cgroups, kernel)."""
    data = host_info()
    try:
        data.update(_counts(ctx.engine))
    except Exception:   # no access to the engine's root: the host facts alone
        pass
    data["DockerRootDir"] = ctx.root
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    if "Containers" in data:
        click.echo(f"Containers: {data['Containers']}")
        click.echo(f" Running: {data['ContainersRunning']}")
        click.echo(f" Paused: {data['ContainersPaused']}")
        click.echo(f" Stopped: {data['ContainersStopped']}")
        click.echo(f"Images: {data['Images']}")
    click.echo(f"Server Version: {data['ServerVersion']}")
    click.echo(f"Cgroup Driver: {data['CgroupDriver']}")
    click.echo(f"Cgroup Version: {data['CgroupVersion']}")
    if data["CgroupControllersV1"]:
        click.echo(f"Cgroup v1 hierarchies: {' '.join(data['CgroupControllersV1'])}")
    click.echo(f"Default Runtime: {data['DefaultRuntime']}")
    click.echo(f"Kernel Version: {data['KernelVersion']}")
    click.echo(f"Operating System: {data['OperatingSystem']}")
    click.echo(f"Architecture: {data['Architecture']}")
    click.echo(f"Root Dir: {data['DockerRootDir']}")

