"""Commands on a container's files: diff, cp, export, commit. Each parses
docker's flags and calls one function of engine.diff/copy/export/commit."""
from __future__ import annotations

import os
import sys

import click

from minictr.errors import MinictrError


@click.command()
@click.argument("container")
@click.pass_obj
def diff(ctx, container) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    from minictr.engine.diff import diff as changes
    lines = [f"{kind} {path}" for kind, path in changes(ctx.engine, ctx.engine.lookup(container))]
    if lines:
        ctx.out("\n".join(lines))


@click.command()
@click.argument("src")
@click.argument("dest")
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output during copy")
@click.pass_obj
def cp(ctx, src, dest, archive, follow_link, quiet) -> None:
    """Copy files/folders between a container and the local filesystem.

    \b
    minictr cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
    minictr cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"""
    from minictr.cli.render import human_size
    from minictr.engine.copy import cp as copy
    if dest == "-" and ctx.stdout_is_tty:
        raise MinictrError("cowardly refusing to write a tar stream to a terminal, redirect the output")
    ctx.stdout.flush()
    result = copy(ctx.engine, src, dest, follow=follow_link, archive=archive, stdin=sys.stdin.buffer,
                  stdout=_binary(ctx.stdout))
    if not quiet and dest != "-" and ctx.stderr_is_tty:
        ctx.err(f"Successfully copied {human_size(result.size)} to {result.destination}")


def _binary(stream):
    return getattr(stream, "buffer", stream)


@click.command()
@click.argument("container")
@click.option("-o", "--output", default=None, help="Write to a file, instead of STDOUT")
@click.pass_obj
def export(ctx, container, output) -> None:
    """Export a container's filesystem as a tar archive."""
    from minictr.engine.export import export as export_tar
    rec = ctx.engine.lookup(container)
    if not output:
        if ctx.stdout_is_tty:
            raise MinictrError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        ctx.stdout.flush()
        out = _binary(ctx.stdout)
        export_tar(ctx.engine, rec, out)
        out.flush()
        return
    tmp = f"{output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            export_tar(ctx.engine, rec, f)
        os.replace(tmp, output)
    except OSError as e:
        raise MinictrError(f"failed to export container: {output}: {e.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@click.command()
@click.argument("container")
@click.argument("repository", required=False)
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Commit message")
@click.option("-p", "--pause/--no-pause", default=True, help="Pause container during commit (default true)")
@click.pass_obj
def commit(ctx, container, repository, author, changes, message, pause) -> None:
    """Create a new image from a container's changes."""
    from minictr.engine.commit import commit as make_image
    rec = ctx.engine.lookup(container)
    result = make_image(ctx.engine, rec, repository or "", message=message, author=author, changes=changes,
                        pause=pause)
    ctx.out(result.image_id)
