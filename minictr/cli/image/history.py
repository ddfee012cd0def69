"""`minictr history`: docker's columns, newest first."""
import click

from minictr.cli import render


@click.command()
@click.argument("name")
@click.option("-H", "--human", default=True, type=bool, help="Print sizes and dates in human readable format")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--format", "fmt", default=None, help="'json' for one JSON object per line")
@click.pass_obj
def history(ctx, name, human, no_trunc, quiet, fmt) -> None:
    """Show the history of an image."""
    from minictr.image import views
    record = ctx.images.records.lookup(name)
    entries = views.history(ctx.images, record)
    ident = (lambda i: i if no_trunc or i == "<missing>" else i.split(":", 1)[1][:12])
    if quiet:
        ctx.out("\n".join(ident(e["Id"]) for e in entries))
        return
    if fmt == "json":
        ctx.out(render.json_lines([{"Comment": e["Comment"], "CreatedAt": e["Created"],
                                    "CreatedBy": e["CreatedBy"], "CreatedSince": render.ago(e["Created"]),
                                    "ID": ident(e["Id"]), "Size": render.human_size(e["Size"])} for e in entries]))
        return
    rows = []
    for e in entries:
        created_by = e["CreatedBy"]
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append([ident(e["Id"]), render.ago(e["Created"]) if human else e["Created"], created_by,
                     render.human_size(e["Size"]) if human else str(e["Size"]), e["Comment"]])
    ctx.out(render.table(["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows))
