"""`minictr container ...`: the same commands grouped as `docker container`
has them, plus `cleanup`, which the shim runs after an exit (as podman's
conmon runs `podman container cleanup`)."""
import click

from minictr.cli.main import LazyGroup

from minictr.cli.container.commands import CONTAINER_COMMANDS, GROUP_ONLY


@click.group(cls=LazyGroup, lazy={**CONTAINER_COMMANDS, **GROUP_ONLY})
def container() -> None:
    """Manage containers."""


@click.command()
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="'json' (the default) or a {{.Field}} path")
@click.pass_context
def inspect_containers(click_ctx, names, fmt) -> None:
    """Display detailed information on one or more containers."""
    from minictr.cli.container.manage import inspect
    click_ctx.invoke(inspect, names=names, fmt=fmt, kind="container")


inspect_containers.name = "inspect"


@click.command()
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_obj
def prune(ctx, force) -> None:
    """Remove all stopped containers."""
    from minictr.cli import render
    from minictr.engine.system import Pruned, prune_containers
    pruned = Pruned()
    prune_containers(ctx.engine, pruned)
    if pruned.containers:
        ctx.out("Deleted Containers:\n" + "\n".join(pruned.containers) + "\n")
    ctx.out(f"Total reclaimed space: {render.human_size(pruned.reclaimed)}")


@click.command(hidden=True)
@click.argument("container_id")
@click.pass_obj
def cleanup(ctx, container_id) -> None:
    """Record a container's exit and tear down what its start made (what its
    shim runs: minictr.engine.exit_cleanup; kept for scripts and by hand)."""
    from minictr.engine.exit_cleanup import main as exit_cleanup
    exit_cleanup([ctx.root, container_id])
