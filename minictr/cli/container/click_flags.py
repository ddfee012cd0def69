"""click options made from the flag table in minictr.cli.container.flags."""
from __future__ import annotations

import click

from minictr.cli.flag_table import CHOICE, FLAG, INT, MULTI, TOGGLE, Flag


def _option(flag: Flag):
    if flag.kind == TOGGLE:
        return click.option(*flag.decls, flag.dest, default=flag.default, help=flag.help)
    kw: dict = {"default": flag.default, "help": flag.help}
    if flag.kind == FLAG:
        kw["is_flag"] = True
    elif flag.kind == MULTI:
        kw.update(multiple=True, metavar="VALUE")
    elif flag.kind == INT:
        kw["type"] = int
    elif flag.kind == CHOICE:
        kw["type"] = click.Choice(list(flag.choices))
    return click.option(*flag.decls, flag.dest, **kw)


def options(flags: list[Flag]):
    """A decorator adding every flag, in the table's order in --help."""
    def add(fn):
        for flag in reversed(flags):
            fn = _option(flag)(fn)
        return fn
    return add
