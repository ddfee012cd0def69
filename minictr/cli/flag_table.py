"""A command's options as data (a table of `Flag`s): its click options are
made from it (minictr.cli.container.click_flags), and so is the click-free
parse of a plain `run`, `create` or `build` (minictr.cli.container.
fast_argv), so the two cannot drift apart. Free of click and of the engine."""
from __future__ import annotations

FLAG, TEXT, MULTI, INT, CHOICE, TOGGLE = "flag", "text", "multi", "int", "choice", "toggle"


class Flag:
    """One option: its names, kind, help and default; `dest` is the
    keyword it is passed as."""
    __slots__ = ("decls", "kind", "help", "default", "dest", "choices")

    def __init__(self, decls: tuple, kind: str, help: str, default=None, dest: str = "", choices: tuple = ()):
        self.decls, self.kind, self.help, self.choices = decls, kind, help, choices
        self.default = {FLAG: False, MULTI: ()}.get(kind, default)
        longest = max((d for d in decls if d.startswith("--")), key=len)
        self.dest = dest or longest[2:].split("/")[0].replace("-", "_")
