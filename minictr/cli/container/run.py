"""`minictr run`, `create`, `start` as click commands; what they do is in
minictr.cli.container.running, their flags in minictr.cli.container.flags."""
from __future__ import annotations

import click

from minictr.cli.container import click_flags
from minictr.cli.container.flags import CREATE_FLAGS, RUN_FLAGS
from minictr.cli.container.running import create_container, run_attached, run_container

_RUN_SETTINGS = {"allow_interspersed_args": False}


@click.command(context_settings=_RUN_SETTINGS)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click_flags.options(CREATE_FLAGS + RUN_FLAGS)
@click.pass_obj
def run(ctx, image, command, **kw) -> None:
    """Create and run a new container from an image."""
    run_container(ctx, image, command, kw)


@click.command(context_settings=_RUN_SETTINGS)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click_flags.options(CREATE_FLAGS)
@click.pass_obj
def create(ctx, image, command, **kw) -> None:
    """Create a new container."""
    rec = create_container(ctx, image, command, kw)
    ctx.out(rec.id)


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.option("-a", "--attach", "attach_", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.option("--detach-keys", default="ctrl-p,ctrl-q", help="Override the key sequence for detaching")
@click.pass_obj
def start(ctx, containers, attach_, interactive, detach_keys) -> None:
    """Start one or more stopped containers."""
    from minictr.errors import MinictrError
    engine = ctx.engine
    if attach_ or interactive:
        if len(containers) > 1:
            raise MinictrError("you cannot start and attach multiple containers at once")
        rec = engine.lookup(containers[0])
        code = run_attached(ctx, rec, stdin=interactive, detach_keys=detach_keys, sig_proxy=True)
        if code:
            raise SystemExit(code)
        return
    from minictr.cli.each import for_each
    for_each(ctx, containers, lambda name: engine.start(engine.lookup(name)) and None)
