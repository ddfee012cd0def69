"""`minictr`: the docker-like CLI. A thin skin: each command parses its
flags, calls one function of `image` or `engine` and renders the result.
Commands are imported only when invoked, so a start pays for one command's
imports, not all of them. The console script is minictr.cli.entry."""
from __future__ import annotations

import importlib
import sys

import click

from minictr import __version__
from minictr.cli.container.commands import CONTAINER_COMMANDS

# name -> "module:function" (module under minictr.cli)
COMMANDS = {
    "version": "system:version",
    "info": "system:info",
    "build": "image.build:build",
    "pull": "image.pull:pull",
    "push": "image.push:push",
    "images": "image.ls:images",
    "rmi": "image.rm:rmi",
    "tag": "image.tag:tag",
    "history": "image.history:history",
    "inspect": "container.manage:inspect",
    "save": "image.save:save",
    "load": "image.load:load",
    "login": "image.login:login",
    "logout": "image.login:logout",
    "image": "image.group:image",
    "container": "container.group:container",
    "volume": "volume:volume",
    "system": "system_group:system",
    "network": "network:network",
    "cri": "cri:cri",
    **CONTAINER_COMMANDS,
}


class LazyGroup(click.Group):
    """A group whose subcommands live in their own modules."""

    def __init__(self, *args, lazy: dict[str, str] | None = None, package: str = "minictr.cli", **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy, self.package = lazy or {}, package

    def list_commands(self, ctx) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx, name):
        if name in self.lazy:
            module, attr = self.lazy[name].split(":")
            return getattr(importlib.import_module(f"{self.package}.{module}"), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            e.exit_code = 125   # docker's CLI: a bad flag or argument exits 125
            raise
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except BaseException as e:
            from minictr.cli.failures import ENGINE_FAILURE_CODE, report
            code = report(e, ENGINE_FAILURE_CODE.get(ctx.invoked_subcommand, 1))
            if code is None:
                raise
            ctx.exit(code)


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-v", "--version", prog_name="minictr", message="minictr version %(version)s")
@click.option("--root", envvar="MINICTR_ROOT", default=None, metavar="DIR",
              help="Root of the engine's state (default /var/lib/minictr)")
@click.option("--explain", is_flag=True, help="Print every kernel step (mounts, namespaces, cgroups, veth, "
                                              "iptables rules) and why, on stderr")
@click.pass_context
def main(ctx, root: str | None, explain: bool) -> None:
    """minictr: containers from scratch (namespaces, cgroups, overlayfs)."""
    from minictr.cli.context import Context
    if explain:
        from minictr import explain as explain_mod
        explain_mod.enable()
    ctx.obj = Context(root)


if __name__ == "__main__":
    sys.exit(main())
