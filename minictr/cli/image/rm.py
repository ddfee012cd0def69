"""`minictr rmi` / `image rm`: docker's Untagged:/Deleted: report."""
import click


@click.command()
@click.argument("images", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.pass_obj
def rmi(ctx, images, force) -> None:
    """Remove one or more images."""
    from minictr.errors import MinictrError
    from minictr.image.remove import remove_image
    failed = False
    for name in images:
        try:
            for verb, what in remove_image(ctx.images, name, force=force):
                ctx.out(f"{verb}: {what}")
        except MinictrError as e:
            ctx.err(f"Error: {e}")
            failed = True
    if failed:
        raise SystemExit(1)
