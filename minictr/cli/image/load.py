"""`minictr load`: docker's messages (`Loaded image: NAME`, or
`Loaded image ID: sha256:...` for an image without a name)."""
import sys

import click


@click.command()
@click.option("-i", "--input", "path", default=None, help="Read from a tar archive file (or an OCI layout directory)")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@click.option("--platform", default=None, help="Platform to load from a multi-platform OCI layout")
@click.pass_obj
def load(ctx, path, quiet, platform) -> None:
    """Load images from a tar archive or STDIN."""
    from minictr.cli.progress_view import progress_for
    from minictr.errors import MinictrError
    from minictr.image.load import load as do_load
    if path is None and sys.stdin.isatty():
        raise MinictrError("requested load from stdin, but stdin is empty")
    result = do_load(ctx.images, path, stdin=None if path else sys.stdin.buffer, platform=platform,
                     progress=progress_for(ctx, quiet))
    for name, old in result.renamed:
        ctx.out(f"The image {name} already exists, renaming the old one with ID {old} to empty string")
    for name in result.names:
        ctx.out(f"Loaded image: {name}")
    for image_id in result.ids:
        ctx.out(f"Loaded image ID: {image_id}")
