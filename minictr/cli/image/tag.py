"""`minictr tag SOURCE TARGET`: another name for an image."""
import click


@click.command()
@click.argument("source")
@click.argument("target")
@click.pass_obj
def tag(ctx, source, target) -> None:
    """Create a tag TARGET that refers to SOURCE."""
    from minictr.errors import MinictrError
    from minictr.image.pull import parse_reference
    record = ctx.images.records.lookup(source)
    ref = parse_reference(target)
    if ref.digest:
        raise MinictrError(f"refusing to create a tag with a digest reference: {target}")
    ctx.images.records.tag(record.id, str(ref))
