"""`minictr image ...`: the same commands grouped as `docker image` has them."""
import click

from minictr.cli.main import LazyGroup

IMAGE_COMMANDS = {
    "build": "image.build:build",
    "pull": "image.pull:pull",
    "push": "image.push:push",
    "ls": "image.ls:images",
    "list": "image.ls:images",
    "rm": "image.rm:rmi",
    "tag": "image.tag:tag",
    "inspect": "image.inspect:inspect",
    "history": "image.history:history",
    "prune": "image.prune:prune",
    "save": "image.save:save",
    "load": "image.load:load",
}


@click.group(cls=LazyGroup, lazy=IMAGE_COMMANDS)
def image() -> None:
    """Manage images."""
