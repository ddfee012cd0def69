"""`minictr pull`: docker's output (per-layer progress, Digest, Status,
the full name)."""
import click


@click.command()
@click.argument("name")
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable (os/arch[/variant])")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.pass_obj
def pull(ctx, name, platform, quiet) -> None:
    """Download an image from a registry."""
    from minictr.cli.progress_view import progress_for
    from minictr.image.pull import pull as do_pull
    result = do_pull(ctx.images, ctx.registry, name, platform=platform, progress=progress_for(ctx, quiet))
    ctx.out(str(result.ref))
