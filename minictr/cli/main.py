"""`minictr`: the docker-like CLI. For now it reports what the host offers;
container commands arrive with the engine (images, run, ps, ...)."""
from __future__ import annotations

import json
import os
import platform

import click

from minictr import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-v", "--version", prog_name="minictr",
                      message="minictr version %(version)s")
def main() -> None:
    """minictr: containers from scratch (namespaces, cgroups, overlayfs)."""


@main.command()
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


@main.command()
@click.option("--format", "fmt", default=None, help="'json' for scripts")
def info(fmt: str | None) -> None:
    """Show what this host offers containers (cgroups, kernel)."""
    data = host_info()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"Server Version: {data['ServerVersion']}")
    click.echo(f"Cgroup Driver: {data['CgroupDriver']}")
    click.echo(f"Cgroup Version: {data['CgroupVersion']}")
    if data["CgroupControllersV1"]:
        click.echo(f"Cgroup v1 hierarchies: {' '.join(data['CgroupControllersV1'])}")
    click.echo(f"Default Runtime: {data['DefaultRuntime']}")
    click.echo(f"Kernel Version: {data['KernelVersion']}")
    click.echo(f"Operating System: {data['OperatingSystem']}")
    click.echo(f"Architecture: {data['Architecture']}")
    click.echo(f"Root: {os.environ.get('MINICTR_ROOT', '/var/lib/minictr')}")


if __name__ == "__main__":
    main()
