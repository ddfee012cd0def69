"""`minictr save`: a docker archive by default (docker load and podman
load read it), or an OCI layout (`--format oci-archive|oci-dir`)."""
import sys

import click


@click.command()
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--output", default=None, help="Write to a file (a directory for oci-dir), not stdout")
@click.option("--format", "fmt", default="docker-archive", show_default=True,
              type=click.Choice(["docker-archive", "oci-archive", "oci-dir"]), help="Archive format")
@click.pass_obj
def save(ctx, images, output, fmt) -> None:
    """Save one or more images to a tar archive (streamed to stdout by default)."""
    import os

    from minictr.errors import MinictrError
    from minictr.image.save import save as do_save
    if fmt == "oci-dir":
        if not output:
            raise MinictrError("--format oci-dir needs -o DIRECTORY")
        do_save(ctx.images, list(images), output, fmt)
        return
    if output is None:
        if ctx.stdout_is_tty:
            raise MinictrError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        do_save(ctx.images, list(images), sys.stdout.buffer, fmt)
        return
    tmp = f"{output}.minictr-tmp"
    try:
        with open(tmp, "wb") as f:
            do_save(ctx.images, list(images), f, fmt)
        os.rename(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
