"""`minictr image prune`: dangling images (all unused with -a), then
whatever blobs, snapshots and leftovers of killed pulls nothing references."""
import click

from minictr.cli import render


@click.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Remove all images not used by a container")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_obj
def prune(ctx, all_, force) -> None:
    """Remove unused images and unreferenced data."""
    from minictr.image import gc
    from minictr.image.remove import remove_image
    store = ctx.images
    if not force and ctx.stdout_is_tty:
        what = "all images without at least one container associated to them" if all_ else "all dangling images"
        if not click.confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?"):
            return
    deleted = []
    for record in store.records.all():
        if store.records.lease_holders(record.id) or (record.tags and not all_):
            continue
        deleted += remove_image(store, record.id, force=True, collect_blobs=False)
    collected = gc.collect(store)
    if deleted:
        ctx.out("Deleted Images:")
        for verb, what in deleted:
            ctx.out(f"{verb.lower()}: {what}")
        ctx.out("")
    if collected.temp:
        ctx.out(f"Removed {len(collected.temp)} leftover(s) of interrupted pulls")
    ctx.out(f"Total reclaimed space: {render.human_size(collected.bytes_freed)}")
