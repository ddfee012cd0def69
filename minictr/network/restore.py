"""Whole chain sets into the kernel's legacy tables in one
iptables-restore call: the step after rules.py has planned a container's
published ports (or, later, kube-proxy its services) as data.

A chain set (rules.ChainSet) is chains of ours, written whole, and the
jumps into them from chains outside the set, each jump known by its tag.
`write` renders it as restore input, per table:

    *nat
    :MINICTR-EPD-0123456789ab - [0:0]       create the chain, or flush it
    -A MINICTR-EPD-0123456789ab ...         refill it
    -A MINICTR-DNAT ... -j MINICTR-EPD-...  the jumps not in place yet
    COMMIT

and hands it to iptables-legacy-restore --noflush in one call. Each table
is one commit (libiptc builds the whole new table, the kernel swaps it in
with one IPT_SO_SET_REPLACE), so a packet or a reader sees a chain either
as it was or as it is now, never half-refilled. Tables are committed one
after the other: if a later table fails, what this call made new in the
earlier ones is taken out again before the error is raised; chains it had
only refilled there keep their new rules (the error says so). `remove`
takes the jumps out, then flushes and deletes the chains, also in one call.

What is in place already comes from xtables_probe.read_table (the kernel's
blob, read in-process): so a jump is not written twice, a removal touches
only what exists (a container that died before its rules were written
leaves nothing to fail on), and nothing is written at all when nothing
would change. Every field of every rule is checked before anything is
written: a newline, a quote or a value that would read as an option is
refused, so no input can smuggle a rule or a table in.

Only minictr's own chains (MINICTR-...) can be written or removed whole;
chains outside the set only ever get or lose the set's own jumps."""
from __future__ import annotations

import os
import re

from minictr.network.errors import NetworkError
from minictr.network.rules import ChainSet, Spec, why

OWN_PREFIX = "MINICTR-"
TABLES = ("raw", "mangle", "nat", "filter")
BUILTIN_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
MAX_CHAIN_NAME = 28        # XT_EXTENSION_MAXNAMELEN - 1
MAX_TAG = 255              # the comment match's limit, less its NUL
LOCK_WAIT = 30             # seconds iptables-restore waits for the xtables lock before it gives up
RESTORE_TRIES = 3          # a removal whose rule went away meanwhile reads the tables again
SEARCH_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin")

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")                 # chains, targets
_IFACE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@:+-]{0,14}")
_ADDR = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:/(\d{1,2}))?")
_MODULE = re.compile(r"[a-z0-9_]+")
_OPTION = re.compile(r"[a-z][a-z0-9_]*")
_VALUE = re.compile(r"[A-Za-z0-9_.:,/+=@%][A-Za-z0-9_.:,/+=@%-]*")
_TAG = re.compile(r"[A-Za-z0-9_.:,/+=@%()\[\]][A-Za-z0-9 _.:,/+=@%()\[\]-]*")
_FAILED_LINE = re.compile(r"line (\d+) failed|Error occurred at line: (\d+)")

_binary: str | None = None


class RestoreFailed(NetworkError):
    """The restore binary refused the input; `line` is the index of the
    input line it named (-1: none)."""

    def __init__(self, message: str, line: int = -1):
        super().__init__(message)
        self.line = line


# -- checking --------------------------------------------------------------------

def _refuse(spec: Spec, field: str, value, reason: str) -> NetworkError:
    return NetworkError(f"refusing a rule for chain {spec.chain!r} of table {spec.table!r}: "
                        f"{field} {value!r} {reason}")


def _check_name(spec: Spec, field: str, value) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _refuse(spec, field, value, "is not a chain or target name ([A-Za-z0-9_.-], not starting with '-')")
    if len(value) > MAX_CHAIN_NAME:
        raise _refuse(spec, field, value, f"is longer than {MAX_CHAIN_NAME} characters")


def _check_negatable(spec: Spec, field: str, value, pattern, what: str) -> None:
    if value == "":
        return
    bare = value[1:] if isinstance(value, str) and value.startswith("!") else value
    if not isinstance(bare, str) or not pattern.fullmatch(bare):
        raise _refuse(spec, field, value, f"is not {what}")
    if pattern is _ADDR:
        m = _ADDR.fullmatch(bare)
        if any(int(part) > 255 for part in m.groups()[:4]) or (m.group(5) and int(m.group(5)) > 32):
            raise _refuse(spec, field, value, f"is not {what}")


def check_spec(spec: Spec) -> None:
    """Raise NetworkError unless every field of the rule is one iptables
    will read as that field and nothing else."""
    if spec.table not in TABLES:
        raise _refuse(spec, "table", spec.table, f"is not one of {', '.join(TABLES)}")
    _check_name(spec, "chain", spec.chain)
    _check_name(spec, "target", spec.target)
    _check_negatable(spec, "source", spec.src, _ADDR, "an IPv4 address or network")
    _check_negatable(spec, "destination", spec.dst, _ADDR, "an IPv4 address or network")
    _check_negatable(spec, "in-interface", spec.in_, _IFACE, "an interface name")
    _check_negatable(spec, "out-interface", spec.out, _IFACE, "an interface name")
    if spec.proto and not (isinstance(spec.proto, str) and _MODULE.fullmatch(spec.proto)):
        raise _refuse(spec, "protocol", spec.proto, "is not a protocol name or number")
    for module, options in spec.matches:
        if not isinstance(module, str) or not _MODULE.fullmatch(module) or module == "comment":
            raise _refuse(spec, "match", module, "is not a match module name (the comment is the tag)")
        _check_options(spec, f"option of match {module}", options)
    _check_options(spec, f"option of target {spec.target}", spec.target_args)
    tag = spec.tag
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise _refuse(spec, "tag", tag, "holds characters a comment may not (letters, digits, space and "
                                        "_.:,/+=@%()[]- only, not starting with '-')")
    if len(tag.encode()) > MAX_TAG:
        raise _refuse(spec, "tag", tag, f"is longer than {MAX_TAG} bytes")


def _check_options(spec: Spec, field: str, options) -> None:
    for key, value in dict(options).items():
        if not isinstance(key, str) or not _OPTION.fullmatch(key):
            raise _refuse(spec, field, key, "is not an option name ([a-z0-9_])")
        if not isinstance(value, str) or not _VALUE.fullmatch(value):
            raise _refuse(spec, f"{field} --{key.replace('_', '-')}", value,
                          "is not a plain value (no spaces, quotes or leading '-')")


def check(chain_set: ChainSet) -> None:
    """The whole set, before anything is written: its chains are ours
    (MINICTR-...), each named once, their rules theirs; each jump starts
    outside the set and leads into a chain of it in the same table."""
    own = set()
    for chain in chain_set.chains:
        probe = Spec(chain.table, chain.name, "RETURN", "chain")
        if chain.table not in TABLES:
            raise _refuse(probe, "table", chain.table, f"is not one of {', '.join(TABLES)}")
        _check_name(probe, "chain", chain.name)
        if not chain.name.startswith(OWN_PREFIX) or chain.name in BUILTIN_CHAINS:
            raise NetworkError(f"refusing to write chain {chain.name!r}: not one of minictr's ({OWN_PREFIX}...)")
        if (chain.table, chain.name) in own:
            raise NetworkError(f"chain {chain.name!r} of table {chain.table!r} is in the set twice")
        own.add((chain.table, chain.name))
        for spec in chain.rules:
            check_spec(spec)
            if (spec.table, spec.chain) != (chain.table, chain.name):
                raise NetworkError(f"a rule for chain {spec.chain!r} of table {spec.table!r} is listed under "
                                   f"{chain.name!r} of {chain.table!r}")
    jumps = set()
    for jump in chain_set.jumps:
        check_spec(jump)
        if (jump.table, jump.chain, jump.tag) in jumps:
            raise NetworkError(f"two jumps from chain {jump.chain!r} of table {jump.table!r} have the tag "
                               f"{jump.tag!r}: a jump is known by its tag")
        jumps.add((jump.table, jump.chain, jump.tag))
        if (jump.table, jump.chain) in own:
            raise NetworkError(f"the jump {jump.text()!r} starts inside the set: put it in the chain's rules")
        if (jump.table, jump.target) not in own:
            raise NetworkError(f"the jump {jump.text()!r} does not lead into a chain of the set")


# -- what is there -----------------------------------------------------------------

def _tables_of(chain_set: ChainSet) -> list[str]:
    used = {c.table for c in chain_set.chains} | {j.table for j in chain_set.jumps}
    return [t for t in TABLES if t in used]


def read(chain_set: ChainSet) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """The set's tables as the kernel has them now (xtables_probe.read_table)."""
    from minictr.network.xtables_probe import read_table
    return {table: read_table(table) for table in _tables_of(chain_set)}


def strays(seen: dict, chain_set: ChainSet, prefix: str) -> list[tuple[str, str, str]]:
    """Rules tagged `prefix...` that are neither in the set's chains nor
    its jumps (as (table, chain, tag)): what an older layout of the same
    rules left, to be removed by tag first."""
    own = {(c.table, c.name) for c in chain_set.chains}
    jumps = {(j.table, j.chain, j.tag, j.target) for j in chain_set.jumps}
    return [(table, chain, tag) for table, chains in seen.items() for chain, rules in chains.items()
            if (table, chain) not in own for tag, target in rules
            if tag.startswith(prefix) and (table, chain, tag, target) not in jumps]


# -- rendering ---------------------------------------------------------------------

class Script:
    """Restore input, and for each line the iptables command it stands
    for (errors name it, --explain prints it)."""

    def __init__(self):
        self.lines: list[str] = []
        self.says: list[tuple[str, str]] = []    # (command, why) per line
        self.tables: list[str] = []

    def add(self, line: str, command: str, why: str) -> None:
        self.lines.append(line)
        self.says.append((command, why))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    @property
    def changes(self) -> int:
        return sum(1 for line in self.lines if not line.startswith(("*", "COMMIT")))


def _rule_line(verb: str, spec: Spec) -> str:
    return " ".join([verb, spec.chain] + spec.words())


def _jumps_present(seen: dict, jump: Spec) -> int:
    return seen.get(jump.table, {}).get(jump.chain, []).count((jump.tag, jump.target))


def render_write(chain_set: ChainSet, seen: dict) -> Script:
    """Each table: its chains declared (made, or flushed if there), their
    rules, then the jumps not present yet. A jump's chain must exist."""
    script = Script()
    for table in _tables_of(chain_set):
        chains = [c for c in chain_set.chains if c.table == table]
        jumps = [j for j in chain_set.jumps if j.table == table and not _jumps_present(seen, j)]
        existing = seen.get(table, {})
        for jump in jumps:
            if jump.chain not in existing:
                raise NetworkError(f"cannot add {jump.text()!r}: the {table} table has no chain {jump.chain} "
                                   "(the network's rules are not in place)")
        script.add(f"*{table}", "", "")
        script.tables.append(table)
        for chain in chains:
            there = chain.name in existing
            script.add(f":{chain.name} - [0:0]", f"iptables -t {table} {'-F' if there else '-N'} {chain.name}",
                       "flushed and refilled in one commit" if there else "a chain of its own for these rules")
        for chain in chains:
            for spec in chain.rules:
                script.add(_rule_line("-A", spec), spec.text("-A"), why(spec))
        for jump in jumps:
            verb = "-I" if jump.insert else "-A"
            script.add(_rule_line(verb, jump), jump.text(verb), why(jump))
        script.add("COMMIT", f"commit the {table} table", "")
    return script


def render_remove(chain_set: ChainSet, seen: dict, tables: list[str] | None = None) -> Script:
    """Each table: the set's jumps that are present taken out (as often as
    they are there), then its chains that exist flushed, then deleted."""
    script = Script()
    for table in tables if tables is not None else _tables_of(chain_set):
        existing = seen.get(table, {})
        lines = Script()
        for jump in chain_set.jumps:
            if jump.table == table:
                for _ in range(_jumps_present(seen, jump)):
                    lines.add(_rule_line("-D", jump), jump.text("-D"), "the way into the chain goes first")
        there = [c.name for c in chain_set.chains if c.table == table and c.name in existing]
        for name in there:  # all flushed before any is deleted: the set's chains may jump to each other
            lines.add(f"-F {name}", f"iptables -t {table} -F {name}", "its rules go")
        for name in there:
            lines.add(f"-X {name}", f"iptables -t {table} -X {name}", "and the chain")
        if lines.lines:
            script.add(f"*{table}", "", "")
            script.tables.append(table)
            script.lines += lines.lines
            script.says += lines.says
            script.add("COMMIT", f"commit the {table} table", "")
    return script


# -- running -----------------------------------------------------------------------

def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def restore_binary() -> str:
    """iptables-legacy-restore, or an iptables-restore that says it is the
    legacy one: the tables python-iptables and xtables_probe use. The
    nf_tables variant writes other tables, which these never see."""
    global _binary
    if _binary is not None:
        return _binary
    dirs = [d for d in os.environ.get("PATH", "").split(":") if d] + list(SEARCH_DIRS)
    for name in ("iptables-legacy-restore", "iptables-restore"):
        for d in dirs:
            path = os.path.join(d, name)
            if not _executable(path):
                continue
            if name == "iptables-legacy-restore":
                _binary = path
                return path
            status, out = _spawn([path, "--version"], "")
            if status == 0 and "legacy" in out:
                _binary = path
                return path
            break  # the first iptables-restore on the path is the one that answers to its name
    raise NetworkError("no legacy iptables-restore on this host (iptables-legacy-restore, or iptables-restore "
                       "saying '(legacy)' in --version): install the iptables package")


def _pipe() -> tuple[int, int]:
    """A close-on-exec pipe whose ends are not 0-2 (a parent started
    without them must not see one dup2'ed onto itself, its flag kept)."""
    import fcntl
    ends = []
    for fd in os.pipe2(os.O_CLOEXEC):
        if fd < 3:
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(fd)
            fd = high
        ends.append(fd)
    return ends[0], ends[1]


def _spawn(argv: list[str], text: str) -> tuple[int, str]:
    """Run argv with `text` on stdin; (exit status, stdout and stderr).
    posix_spawn (vfork under glibc) without the subprocess module, which
    costs a container start more to import than the run itself."""
    r_in, w_in = _pipe()
    r_out, w_out = _pipe()
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_DUP2, r_in, 0), (os.POSIX_SPAWN_DUP2, w_out, 1), (os.POSIX_SPAWN_DUP2, w_out, 2)])
    except OSError as e:
        for fd in (r_in, w_in, r_out, w_out):
            os.close(fd)
        raise NetworkError(f"cannot run {argv[0]}: {e.strerror or e}") from None
    os.close(r_in)
    os.close(w_out)
    try:
        data = memoryview(text.encode())
        try:
            while data:
                data = data[os.write(w_in, data):]
        except BrokenPipeError:
            pass  # it stopped reading: it failed, and says why below
        os.close(w_in)
        w_in = -1
        chunks = []
        while True:
            chunk = os.read(r_out, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        if w_in >= 0:
            os.close(w_in)
        os.close(r_out)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace")


def _failure(script: Script, binary: str, status: int, out: str) -> RestoreFailed:
    """The binary's complaint as one line naming the rule it failed on."""
    m = _FAILED_LINE.search(out)
    index = int(m.group(1) or m.group(2)) - 1 if m else -1
    reasons = [line.split(": ", 1)[-1] if line.startswith("iptables-restore v") else line
               for line in (l.strip() for l in out.splitlines())
               if line and not _FAILED_LINE.search(line) and not line.startswith("Try `")]
    reason = "; ".join(reasons) if reasons else f"exit status {status}"
    name = os.path.basename(binary)
    if not 0 <= index < len(script.lines):
        return RestoreFailed(f"{name} failed: {reason}")
    if script.lines[index] == "COMMIT":
        table = next(t for i, t in _table_spans(script) if i >= index)
        if not reasons:
            reason = "the kernel refused the new table (dmesg says which rule)"
        return RestoreFailed(f"{name}: the {table} table's commit failed: {reason}", index)
    if not reasons:  # libiptc's own errors are not printed: what a refused line of each kind means
        reason = {"-D": "no rule in the chain reads like that (any more)",
                  "-X": "the chain is not empty or something still jumps to it",
                  "-F": "no such chain"}.get(script.lines[index][:2], "refused (is the chain there?)")
    return RestoreFailed(f"{name}: {script.says[index][0]} failed: {reason}", index)


def _table_spans(script: Script):
    """(index of its COMMIT line, table) for each table of the script."""
    table = ""
    for i, line in enumerate(script.lines):
        if line.startswith("*"):
            table = line[1:]
        elif line == "COMMIT":
            yield i, table


def _explain(script: Script, binary: str, what: str) -> None:
    from minictr.explain import enabled, step
    if not enabled():
        return
    for (command, why), line in zip(script.says, script.lines):
        if command and line != "COMMIT" and not line.startswith("*"):
            step(command, why)
    step(f"{os.path.basename(binary)} --noflush --wait {LOCK_WAIT} < ({len(script.lines)} lines on stdin)",
         f"{what}: the {script.changes} changes above in one call, one atomic commit per table "
         f"({', '.join(script.tables)})")


def run(script: Script, what: str) -> None:
    """Hand the script to the restore binary; NetworkError naming the
    failed rule if it refuses. Nothing to do: no process at all."""
    if not script.changes:
        return
    binary = restore_binary()
    _explain(script, binary, what)
    status, out = _spawn([binary, "--noflush", "--wait", str(LOCK_WAIT)], script.text())
    if status != 0:
        raise _failure(script, binary, status, out)


def write(chain_set: ChainSet, what: str = "write the chains") -> None:
    """Make or refill the set's chains and add its missing jumps: one
    restore call, one commit per table. On failure, whatever of the set
    the call made new is there (in a table committed before the failing
    one) is removed again. A jump or chain the new set no longer has is
    not this call's to know: remove() a set naming it."""
    check(chain_set)
    seen = read(chain_set)
    script = render_write(chain_set, seen)
    try:
        run(script, what)
    except RestoreFailed as error:
        new = ChainSet(tuple(c for c in chain_set.chains if c.name not in seen.get(c.table, {})),
                       tuple(j for j in chain_set.jumps if not _jumps_present(seen, j)))
        try:   # what was not there before and is now, this call made
            run(render_remove(new, read(new)), "undo the tables committed before the failure")
        except NetworkError as undo:
            raise NetworkError(f"{error}; undoing what was committed failed too: {undo}") from None
        if error.line >= 0:
            committed, may = {t for i, t in _table_spans(script) if i < error.line}, ""
        else:   # no line named (a lock given up on, say): any table but the last may have gone in
            committed, may = set(script.tables[:-1]), "may "
        kept = [f"{c.name} ({c.table})" for c in chain_set.chains
                if c.table in committed and c.name in seen.get(c.table, {})]
        if kept:
            raise RestoreFailed(f"{error}; chains refilled in a table committed before the failure {may}keep "
                                f"their new rules: {', '.join(kept)}", error.line) from None
        raise


def remove(chain_set: ChainSet, seen: dict | None = None, what: str = "remove the chains") -> None:
    """Take the set's jumps out and its chains away, whatever of them is
    there (`seen`: the tables as read just before, to save a read): one
    restore call. A jump that went away meanwhile: read and try again."""
    check(chain_set)
    for attempt in range(RESTORE_TRIES):
        if seen is None or attempt:
            seen = read(chain_set)
        script = render_remove(chain_set, seen)
        try:
            run(script, what)
            return
        except RestoreFailed as error:
            if attempt + 1 == RESTORE_TRIES or not (0 <= error.line < len(script.lines)) \
                    or not script.lines[error.line].startswith("-D "):
                raise
