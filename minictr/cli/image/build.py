"""`minictr build [OPTIONS] PATH`: a Dockerfile and its context to an
image, with docker build's flags (minictr.cli.image.build_flags) and
BuildKit's plain progress on stderr; what it does is in
minictr.cli.image.building."""
import click

from minictr.cli.container import click_flags
from minictr.cli.image.build_flags import BUILD_FLAGS


@click.command()
@click.argument("path")
@click_flags.options(BUILD_FLAGS)
@click.pass_obj
def build(ctx, path, **kw) -> None:
    """Build an image from a Dockerfile."""
    from minictr.cli.image.building import build as run_build
    run_build(ctx, path, **kw)
