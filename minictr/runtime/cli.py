"""minictr-runtime: runc's command line, so podman, docker (containerd-shim)
and the OCI runtime-tools can drive minictr as they drive runc.

A table-driven parser (argv.py) rather than click or argparse: this is the
hot path of every container start, and start-up time is part of what we are
measured on.
"""
from __future__ import annotations

from minictr import jsonio
import os
import sys

from minictr import __version__
from minictr.runtime.argv import Opt, UsageError, Verb, help_text, parse

SPEC_VERSION = "1.0.2-dev"


class Log:
    """--log / --log-format: where errors go besides stderr (containerd-shim
    reads the last error from the json log file)."""

    def __init__(self, path: str | None, fmt: str, debug: bool):
        self.path, self.fmt, self.debug_on = path, fmt, debug

    def write(self, level: str, msg: str) -> None:
        if not self.path:
            return
        from minictr.clock import now_rfc3339
        now = now_rfc3339()
        if self.fmt == "json":
            line = jsonio.dumps({"level": level, "msg": msg, "time": now})
        else:
            line = f'time="{now}" level={level} msg={jsonio.dumps(msg)}'
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass

    def debug(self, msg: str) -> None:
        if self.debug_on:
            self.write("debug", msg)


GLOBAL_OPTS = [
    Opt("--root", "value", help="state directory (default /run/minictr-runtime)"),
    Opt("--log", "value", help="log file for errors/debug"),
    Opt("--log-format", "value", "text", choices=("text", "json"), help="text or json"),
    Opt("--log-level", "value"),
    Opt("--debug", help="debug lines in the log"),
    Opt("--explain", help="print each kernel step with its reason"),
    Opt("--systemd-cgroup", help="accepted for compatibility; cgroupfs is used"),
    Opt("--criu", "value"),
    Opt("--rootless", "value"),
    Opt("-v --version", help="print the version"),
]

_CREATE_OPTS = [Opt("-b --bundle", "value", ".", help="bundle directory"), Opt("--pid-file", "value"),
                Opt("--console-socket", "value"), Opt("--preserve-fds", "int"), Opt("--no-pivot"),
                Opt("--no-new-keyring")]
_UPDATE_FLAGS = ("--memory", "--memory-reservation", "--memory-swap", "--cpu-shares", "--cpu-quota",
                 "--cpu-period", "--cpuset-cpus", "--cpuset-mems", "--pids-limit")

VERBS = {v.name: v for v in [
    Verb("spec", "write a default config.json", "", [Opt("-b --bundle", "value", "."), Opt("--rootless")]),
    Verb("create", "create a container", "id", _CREATE_OPTS),
    Verb("run", "create, start and wait for a container", "id",
         _CREATE_OPTS + [Opt("-d --detach"), Opt("--keep")]),
    Verb("start", "start a created container", "id"),
    Verb("state", "print the OCI state JSON", "id"),
    Verb("kill", "signal a container's init", "id signal?", [Opt("-a --all")]),
    Verb("delete", "delete a container", "id", [Opt("-f --force")]),
    Verb("exec", "run a process in a running container", "id command...", [
        Opt("-p --process", "value"), Opt("-t --tty"), Opt("-d --detach"), Opt("--pid-file", "value"),
        Opt("--console-socket", "value"), Opt("-e --env", "append"), Opt("--cwd", "value"),
        Opt("-u --user", "value"), Opt("-g --additional-gids", "append_int"), Opt("-c --cap", "append"),
        Opt("--no-new-privs"), Opt("--preserve-fds", "int"), Opt("--apparmor", "value"),
        Opt("--process-label", "value"), Opt("--cgroup", "value")]),
    Verb("list", "list containers", "", [Opt("-f --format", "value", "table", choices=("table", "json")),
                                         Opt("-q --quiet")]),
    Verb("pause", "freeze every process of a container", "id"),
    Verb("resume", "thaw a paused container", "id"),
    Verb("ps", "list a container's processes", "id ps-args...",
         [Opt("-f --format", "value", "table", choices=("table", "json"))]),
    Verb("events", "stats and OOM events", "id", [Opt("--stats"), Opt("--interval", "value", "5s")]),
    Verb("update", "change a container's resource limits", "id",
         [Opt("-r --resources", "value")] + [Opt(f, "value") for f in _UPDATE_FLAGS]),
    Verb("features", "print the features this runtime supports"),
]}


def _parse_duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix) and text[:-len(suffix)].replace(".", "", 1).isdigit():
            return float(text[:-len(suffix)]) * units[suffix]
    if text.replace(".", "", 1).isdigit():
        return float(text)
    raise ValueError(f"invalid duration {text!r}")


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().rstrip("b")
    if t and t[-1] in units:
        return int(float(t[:-1]) * units[t[-1]])
    return int(t)


def _flag(a, name: str, convert):
    """A flag's value converted, or a ValueError naming the flag."""
    text = getattr(a, name.replace("-", "_"))
    try:
        return convert(text)
    except ValueError:
        raise ValueError(f"--{name}: invalid value {text!r}") from None


def _update_resources(a) -> dict:
    if a.resources:
        src = sys.stdin if a.resources == "-" else open(a.resources)
        with src:
            return jsonio.loads(src.read())
    res: dict = {}
    sizes = (("memory", "memory", "limit"), ("memory-reservation", "memory", "reservation"),
             ("memory-swap", "memory", "swap"), ("cpu-shares", "cpu", "shares"),
             ("cpu-quota", "cpu", "quota"), ("cpu-period", "cpu", "period"), ("pids-limit", "pids", "limit"))
    for flag, group, key in sizes:
        if getattr(a, flag.replace("-", "_")) is not None:
            convert = (lambda t: -1 if t.strip() == "-1" else _size(t)) if group == "memory" else int
            res.setdefault(group, {})[key] = _flag(a, flag, convert)
    for flag, key in (("cpuset-cpus", "cpus"), ("cpuset-mems", "mems")):
        if getattr(a, flag.replace("-", "_")) is not None:
            res.setdefault("cpu", {})[key] = getattr(a, flag.replace("-", "_"))
    return res


def _features() -> dict:
    from minictr.runtime.mount_options import PROPAGATION, _FLAGS
    return {
        "ociVersionMin": "1.0.0", "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": sorted([*_FLAGS, *PROPAGATION]),
        "linux": {"namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
                  "cgroup": {"v1": True, "v2": True, "systemd": False},
                  "seccomp": {"enabled": True}},
    }


def dispatch(a, store) -> int:
    from minictr.runtime import lifecycle

    if a.verb == "spec":
        from minictr.runtime.default_spec import default_spec
        path = os.path.join(a.bundle, "config.json")
        if os.path.exists(path):
            raise lifecycle.RuntimeFailure("File config.json exists. Remove it first")
        with open(path, "w") as f:
            f.write(jsonio.dumps(default_spec(rootless=a.rootless), indent="\t"))
        return 0
    if a.verb == "create":
        lifecycle.create(store, a.id, a.bundle, a.pid_file, a.console_socket, preserve_fds=a.preserve_fds,
                         no_pivot=a.no_pivot)
        return 0
    if a.verb == "run":
        from minictr.runtime import processes
        return processes.run(store, a.id, a.bundle, a.detach, a.pid_file, a.console_socket,
                             preserve_fds=a.preserve_fds, no_pivot=a.no_pivot, keep=a.keep)
    if a.verb == "start":
        lifecycle.start(store, a.id)
        return 0
    if a.verb == "state":
        print(jsonio.dumps(lifecycle.state(store, a.id), indent=2))
        return 0
    if a.verb == "kill":
        from minictr.runtime import signals
        lifecycle.kill(store, a.id, signals.parse(a.signal or "SIGTERM"), a.all)
        return 0
    if a.verb == "delete":
        lifecycle.delete(store, a.id, a.force)
        return 0
    if a.verb == "exec":
        from minictr.runtime import processes
        if a.process:
            process = processes.load_process_file(a.process)
        else:
            command = a.command[1:] if a.command[:1] == ["--"] else a.command
            if not command:
                raise lifecycle.RuntimeFailure("exec: a command (or --process) is required")
            st = store.load(a.id)
            process = processes.process_from_args(st.process, command, a.env, a.cwd, a.user, a.tty, a.cap,
                                                  a.no_new_privs, a.additional_gids)
        return processes.exec_process(store, a.id, process, a.detach, a.pid_file, a.console_socket,
                                      a.preserve_fds)
    from minictr.runtime import control
    if a.verb == "list":
        items = control.list_containers(store)
        if a.quiet:
            print("\n".join(i["id"] for i in items))
        elif a.format == "json":
            print(jsonio.dumps(items))
        else:
            rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
            rows += [(i["id"], str(i["pid"]), i["status"], i["bundle"], i["created"], i["owner"] or "root")
                     for i in items]
            widths = [max(12, *(len(r[c]) for r in rows)) for c in range(6)]
            for r in rows:
                print("   ".join(v.ljust(widths[c]) for c, v in enumerate(r)).rstrip())
        return 0
    if a.verb == "pause":
        control.pause(store, a.id)
        return 0
    if a.verb == "resume":
        control.resume(store, a.id)
        return 0
    if a.verb == "ps":
        print(control.ps(store, a.id, a.format, a.ps_args))
        return 0
    if a.verb == "events":
        def emit(ev):
            print(jsonio.dumps(ev), flush=True)
        control.events(store, a.id, _parse_duration(a.interval), a.stats, emit)
        return 0
    if a.verb == "update":
        control.update(store, a.id, _update_resources(a))
        return 0
    if a.verb == "features":
        print(jsonio.dumps(_features(), indent=2))
        return 0
    raise lifecycle.RuntimeFailure(f"unknown command {a.verb!r}")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    try:
        a = parse(argv, GLOBAL_OPTS, VERBS)
    except UsageError as e:
        sys.stderr.write(f"minictr-runtime: {e}\n")
        return 2
    if a.version:
        print(f"minictr-runtime version {__version__}\nspec: {SPEC_VERSION}")
        return 0
    if a.help or not a.verb:
        print(help_text(GLOBAL_OPTS, VERBS, a.verb))
        return 0 if a.help else 1
    if a.verb in ("create", "run", "exec"):
        from minictr.runtime.cgroups import warmup
        warmup.start()  # first: it overlaps the imports and planning below
    if a.explain:
        from minictr import explain
        explain.enable()
    log = Log(a.log, a.log_format, a.debug)
    log.debug(f"{a.verb} {' '.join(sys.argv[1:])}")
    from minictr.runtime.state import StateStore
    store = StateStore(a.root)
    try:
        code = dispatch(a, store)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # one line for the user, whatever failed
        from minictr.oci.runtime_config import ConfigError
        from minictr.runtime.errors import RuntimeFailure
        known = isinstance(e, (RuntimeFailure, ConfigError, ValueError, OSError))
        msg = str(e) if known else f"internal error: {type(e).__name__}: {e}"
        if isinstance(e, OSError) and not isinstance(e, RuntimeFailure) and e.filename:
            msg = f"{e.filename}: {e.strerror}"
        log.write("error", msg)
        sys.stderr.write(f"minictr-runtime: {msg}\n")
        if a.debug and not known:
            import traceback
            traceback.print_exc()
        return 1
    sys.stdout.flush()
    return code


def entry() -> None:
    """The console script: main(), then out without the interpreter's
    teardown (module and GC cleanup cost ~3 ms of every container start;
    every file we write is closed already, only stdio needs a flush)."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1   # e.g. stdout closed by the reader: say so, as print() would
    os._exit(code)


if __name__ == "__main__":
    entry()
