"""A small command-line parser for minictr-runtime, driven by a table.

argparse costs ~8 ms of every container start (its import pulls in
gettext, shutil and locale, and building sub-parsers makes a help
formatter per argument); an engine starts the runtime several times per
container. The grammar needed is runc's (urfave/cli): global flags, a verb,
its flags and positionals, `--opt value` or `--opt=value`, and for `exec`
and `ps` everything after the container id belongs to the command.
"""
from __future__ import annotations


class UsageError(Exception):
    """Bad command line; main() prints it with the usage line, exit 2."""


class Opt:
    """kind: 'flag' (bool), 'value' (str), 'int', 'append' (list of str),
    'append_int' (list of int)."""

    def __init__(self, names: str, kind: str = "flag", default=None, choices=None, help: str = ""):
        self.names = names.split()
        self.dest = self.names[-1].lstrip("-").replace("-", "_")
        self.kind = kind
        self.default = ([] if kind.startswith("append") else False if kind == "flag" else 0 if kind == "int"
                        else None) if default is None else default
        self.choices = choices
        self.help = help

    def takes_value(self) -> bool:
        return self.kind != "flag"


class Verb:
    """positionals: names in order; a name ending in '?' is optional, one
    ending in '...' takes every remaining argument (no flags parsed there)."""

    def __init__(self, name: str, help: str, positionals: str = "", opts: list[Opt] | None = None):
        self.name = name
        self.help = help
        self.positionals = positionals.split()
        self.opts = opts or []

    def usage(self) -> str:
        flags = " ".join(f"[{o.names[-1]}{'' if o.kind == 'flag' else ' ' + o.dest.upper()}]" for o in self.opts)
        return f"minictr-runtime {self.name} {flags} {' '.join(self.positionals)}".replace("  ", " ").strip()


class Namespace:
    def __init__(self, **values):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"Namespace({self.__dict__!r})"


def _take(opts: list[Opt], args: list[str], i: int, values: dict, where: str) -> int:
    """Parse the flag at args[i] into values; returns the next index."""
    arg = args[i]
    name, eq, inline = arg.partition("=")  # -b=x and --bundle=x, as Go's flag package takes them
    opt = next((o for o in opts if name in o.names), None)
    if opt is None:
        raise UsageError(f"{where}: unknown flag {name}")
    if not opt.takes_value():
        if eq:
            raise UsageError(f"{where}: {name} takes no value")
        values[opt.dest] = True
        return i + 1
    if eq:
        text = inline
    elif i + 1 < len(args):
        text = args[i + 1]
        i += 1
    else:
        raise UsageError(f"{where}: {name} needs a value")
    if opt.choices and text not in opt.choices:
        raise UsageError(f"{where}: {name} must be one of {', '.join(opt.choices)} (got {text!r})")
    if opt.kind in ("int", "append_int"):
        try:
            value = int(text)
        except ValueError:
            raise UsageError(f"{where}: {name} needs an integer (got {text!r})") from None
    else:
        value = text
    if opt.kind.startswith("append"):
        values.setdefault(opt.dest, []).append(value)
    else:
        values[opt.dest] = value
    return i + 1


def _is_flag(arg: str) -> bool:
    return arg.startswith("-") and arg != "-" and not _is_number(arg)


def _is_number(arg: str) -> bool:
    return arg[1:].isdigit() if arg.startswith("-") else arg.isdigit()


def parse(argv: list[str], global_opts: list[Opt], verbs: dict[str, Verb]) -> Namespace:
    values: dict = {o.dest: o.default for o in global_opts}
    values["verb"] = None
    values["help"] = False
    i = 0
    while i < len(argv) and _is_flag(argv[i]):
        if argv[i] in ("-h", "--help"):
            values["help"] = True
            i += 1
            continue
        i = _take(global_opts, argv, i, values, "global flags")
    if i == len(argv):
        return Namespace(**values)
    name = argv[i]
    if name == "help":
        values["help"] = True
        return Namespace(**values)
    verb = verbs.get(name)
    if verb is None:
        raise UsageError(f"unknown command {name!r} (commands: {', '.join(verbs)})")
    values["verb"] = name
    for o in verb.opts:
        values[o.dest] = list(o.default) if isinstance(o.default, list) else o.default
    for p in verb.positionals:
        key = p.rstrip("?.").replace("-", "_")
        values[key] = [] if p.endswith("...") else None
    where = name
    rest = argv[i + 1:]
    positionals = list(verb.positionals)
    j = 0
    while j < len(rest):
        arg = rest[j]
        if positionals and positionals[0].endswith("..."):
            key = positionals[0][:-3].replace("-", "_")
            values[key] = rest[j + 1:] if arg == "--" else rest[j:]
            positionals.pop(0)
            break
        if arg in ("-h", "--help"):
            values["help"] = True
            j += 1
        elif arg == "--":
            j += 1
            while j < len(rest) and positionals:
                values[positionals.pop(0).rstrip("?.").replace("-", "_")] = rest[j]
                j += 1
            if j < len(rest):
                raise UsageError(f"{where}: unexpected argument {rest[j]!r}")
        elif _is_flag(arg):
            j = _take(verb.opts, rest, j, values, where)
        elif positionals:
            values[positionals.pop(0).rstrip("?").replace("-", "_")] = arg
            j += 1
        else:
            raise UsageError(f"{where}: unexpected argument {arg!r}")
    missing = [p for p in positionals if not p.endswith(("?", "..."))]
    if missing and not values["help"]:
        raise UsageError(f"{where}: missing {missing[0].replace('-', ' ')}")
    return Namespace(**values)


def help_text(global_opts: list[Opt], verbs: dict[str, Verb], verb: str | None = None) -> str:
    if verb:
        v = verbs[verb]
        lines = [f"usage: {v.usage()}", "", v.help]
        opts = v.opts
    else:
        lines = ["usage: minictr-runtime [global flags] COMMAND [flags] [args]", "",
                 "minictr's OCI runtime (runc-compatible)", "", "commands:"]
        lines += [f"  {v.name:<10} {v.help}" for v in verbs.values()]
        lines += ["", "global flags:"]
        opts = global_opts
    lines += [f"  {', '.join(o.names):<26} {o.help}" for o in opts if o.help]
    return "\n".join(lines)
