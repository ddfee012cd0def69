"""`run`'s, `create`'s and `build`'s flags parsed from the flag table without click,
exactly as click would parse them (tests/unit/test_fast_argv.py compares the
two). Anything this parser does not know how to read (an unknown option, a
missing value, a bad number, --help) returns None, and click then parses
the whole line and says what is wrong."""
from __future__ import annotations

from minictr.cli.flag_table import CHOICE, FLAG, INT, MULTI, TOGGLE, Flag


def parse(args: list[str], flags: list[Flag]) -> tuple[str, tuple, dict] | None:
    """(image, command, kw) for `IMAGE [COMMAND]...` with flags before the
    image (click's allow_interspersed_args=False: the first word ends them)."""
    read = _read(args, flags, interspersed=False)
    if read is None or not read[0]:
        return None
    words, kw = read
    return words[0], tuple(words[1:]), kw


def parse_one(args: list[str], flags: list[Flag]) -> tuple[str, dict] | None:
    """(the argument, kw) for a command of one argument, flags before and
    after it (click's default)."""
    read = _read(args, flags, interspersed=True)
    if read is None or len(read[0]) != 1:
        return None
    return read[0][0], read[1]


def _read(args: list[str], flags: list[Flag], interspersed: bool) -> tuple[list[str], dict] | None:
    """(the words that are no options, kw)."""
    names: dict[str, tuple[Flag, object]] = {}
    for flag in flags:
        if flag.kind == TOGGLE:
            on, off = flag.decls[0].split("/")
            names[on], names[off] = (flag, True), (flag, False)
        else:
            names.update((decl, (flag, True)) for decl in flag.decls)
    kw = {flag.dest: ([] if flag.kind == MULTI else flag.default) for flag in flags}
    words: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            flag, switch = names.get(name, (None, None))
            if flag is None:
                return None
            if flag.kind in (FLAG, TOGGLE):
                if eq:
                    return None
                kw[flag.dest] = switch
                i += 1
                continue
            if not eq:
                if i + 1 >= len(args):
                    return None
                value = args[i + 1]
                i += 1
            i += 1
        elif arg.startswith("-") and arg != "-":
            # a group of short options: flags, then perhaps one taking a value
            flag, value = None, None
            for j in range(1, len(arg)):
                flag, _ = names.get("-" + arg[j], (None, None))
                if flag is None:
                    return None
                if flag.kind == FLAG:
                    kw[flag.dest] = True
                    flag = None
                    continue
                value = arg[j + 1:]
                break
            i += 1
            if flag is None:
                continue
            if not value:
                if i >= len(args):
                    return None
                value = args[i]
                i += 1
        elif interspersed:
            words.append(arg)
            i += 1
            continue
        else:
            break
        if not _store(kw, flag, value):
            return None
    for flag in flags:
        if flag.kind == MULTI:
            kw[flag.dest] = tuple(kw[flag.dest])
    return words + args[i:], kw


def _store(kw: dict, flag: Flag, value: str) -> bool:
    if flag.kind == MULTI:
        kw[flag.dest].append(value)
    elif flag.kind == INT:
        try:
            kw[flag.dest] = int(value)
        except ValueError:
            return False
    elif flag.kind == CHOICE:
        if value not in flag.choices:
            return False
        kw[flag.dest] = value
    else:
        kw[flag.dest] = value
    return True
