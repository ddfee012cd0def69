"""`minictr push`: docker's output (Preparing, Pushed / Layer already
exists / Mounted from ..., then `TAG: digest: ... size: ...`)."""
import click


@click.command()
@click.argument("name")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.pass_obj
def push(ctx, name, quiet) -> None:
    """Upload an image to a registry."""
    from minictr.cli.progress_view import progress_for
    from minictr.image.push import chunk_size_from_env, push as do_push
    result = do_push(ctx.images, ctx.registry, name, progress=progress_for(ctx, quiet),
                     chunk_size=chunk_size_from_env())
    if quiet:
        ctx.out(str(result.ref))
