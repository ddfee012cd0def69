"""minictr-runtime: runc's command line, so podman, docker (containerd-shim)
and the OCI runtime-tools can drive minictr as they drive runc.

argparse rather than click: this is the hot path of every container start,
and start-up time is part of what we are measured on.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from minictr import __version__

SPEC_VERSION = "1.0.2-dev"


class Log:
    """--log / --log-format: where errors go besides stderr (containerd-shim
    reads the last error from the json log file)."""

    def __init__(self, path: str | None, fmt: str, debug: bool):
        self.path, self.fmt, self.debug_on = path, fmt, debug

    def write(self, level: str, msg: str) -> None:
        if not self.path:
            return
        from minictr.runtime.state import now_rfc3339
        now = now_rfc3339()
        if self.fmt == "json":
            line = json.dumps({"level": level, "msg": msg, "time": now})
        else:
            line = f'time="{now}" level={level} msg={json.dumps(msg)}'
        try:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        except OSError:
            pass

    def debug(self, msg: str) -> None:
        if self.debug_on:
            self.write("debug", msg)


VERBS = ("spec", "create", "run", "start", "state", "kill", "delete", "exec", "list", "pause", "resume", "ps",
         "events", "update", "features")
_GLOBAL_WITH_VALUE = ("--root", "--log", "--log-format", "--log-level", "--criu", "--rootless")


def _requested_verb(argv: list[str]) -> str | None:
    """The verb on the command line, found without argparse, so that only its
    sub-parser is built: building all of them is ~10 ms of every start."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _GLOBAL_WITH_VALUE:
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        return arg if arg in VERBS else None
    return None


class _Unbuilt:
    """Stands in for the sub-parser of a verb not on this command line."""

    def add_argument(self, *args, **kwargs):
        return None


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minictr-runtime", description="minictr's OCI runtime (runc-compatible)")
    p.add_argument("--root", default=None, help="state directory (default /run/minictr-runtime)")
    p.add_argument("--log", default=None, help="log file for errors/debug")
    p.add_argument("--log-format", default="text", choices=["text", "json"])
    p.add_argument("--log-level", default=None)
    p.add_argument("--debug", action="store_true")
    p.add_argument("--explain", action="store_true", help="print each kernel step with its reason")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted for compatibility; cgroupfs is used")
    p.add_argument("--criu", default=None, help=argparse.SUPPRESS)
    p.add_argument("--rootless", default=None, help=argparse.SUPPRESS)
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="verb", metavar="COMMAND")

    def add(name, help_):
        if only is not None and name != only:
            return _Unbuilt()
        return sub.add_parser(name, help=help_)

    s = add("spec", "write a default config.json")
    s.add_argument("-b", "--bundle", default=".")
    s.add_argument("--rootless", action="store_true")

    for verb in ("create", "run"):
        c = add(verb, "create a container" if verb == "create" else "create, start and wait for a container")
        c.add_argument("id")
        c.add_argument("-b", "--bundle", default=".")
        c.add_argument("--pid-file", default=None)
        c.add_argument("--console-socket", default=None)
        c.add_argument("--preserve-fds", type=int, default=0)
        c.add_argument("--no-pivot", action="store_true")
        c.add_argument("--no-new-keyring", action="store_true")
        if verb == "run":
            c.add_argument("-d", "--detach", action="store_true")
            c.add_argument("--keep", action="store_true")

    add("start", "start a created container").add_argument("id")
    add("state", "print the OCI state JSON").add_argument("id")
    k = add("kill", "signal a container's init")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    k.add_argument("-a", "--all", action="store_true")
    d = add("delete", "delete a container")
    d.add_argument("id")
    d.add_argument("-f", "--force", action="store_true")

    e = add("exec", "run a process in a running container")
    e.add_argument("id")
    e.add_argument("command", nargs=argparse.REMAINDER)
    e.add_argument("-p", "--process", default=None)
    e.add_argument("-t", "--tty", action="store_true")
    e.add_argument("-d", "--detach", action="store_true")
    e.add_argument("--pid-file", default=None)
    e.add_argument("--console-socket", default=None)
    e.add_argument("-e", "--env", action="append", default=[])
    e.add_argument("--cwd", default=None)
    e.add_argument("-u", "--user", default=None)
    e.add_argument("-g", "--additional-gids", action="append", type=int, default=[])
    e.add_argument("-c", "--cap", action="append", default=[])
    e.add_argument("--no-new-privs", action="store_true")
    e.add_argument("--preserve-fds", type=int, default=0)
    e.add_argument("--apparmor", default=None)
    e.add_argument("--process-label", default=None)
    e.add_argument("--cgroup", default=None)

    ls = add("list", "list containers")
    ls.add_argument("-f", "--format", default="table", choices=["table", "json"])
    ls.add_argument("-q", "--quiet", action="store_true")
    add("pause", "freeze every process of a container").add_argument("id")
    add("resume", "thaw a paused container").add_argument("id")
    ps = add("ps", "list a container's processes")
    ps.add_argument("id")
    ps.add_argument("-f", "--format", default="table", choices=["table", "json"])
    ps.add_argument("ps_args", nargs=argparse.REMAINDER)
    ev = add("events", "stats and OOM events")
    ev.add_argument("id")
    ev.add_argument("--stats", action="store_true")
    ev.add_argument("--interval", default="5s")
    up = add("update", "change a container's resource limits")
    up.add_argument("id")
    up.add_argument("-r", "--resources", default=None)
    for flag in ("--memory", "--memory-reservation", "--memory-swap", "--cpu-shares", "--cpu-quota",
                 "--cpu-period", "--cpuset-cpus", "--cpuset-mems", "--pids-limit"):
        up.add_argument(flag, default=None)
    add("features", "print the features this runtime supports")
    return p


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
            return json.load(src)
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
            json.dump(default_spec(rootless=a.rootless), f, indent="\t")
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
        print(json.dumps(lifecycle.state(store, a.id), indent=2))
        return 0
    if a.verb == "kill":
        lifecycle.kill(store, a.id, lifecycle.parse_signal(a.signal), a.all)
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
            print(json.dumps(items))
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
            print(json.dumps(ev), flush=True)
        control.events(store, a.id, _parse_duration(a.interval), a.stats, emit)
        return 0
    if a.verb == "update":
        control.update(store, a.id, _update_resources(a))
        return 0
    if a.verb == "features":
        print(json.dumps(_features(), indent=2))
        return 0
    raise lifecycle.RuntimeFailure(f"unknown command {a.verb!r}")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    parser = _parser(_requested_verb(argv))
    a = parser.parse_args(argv)
    if a.version:
        print(f"minictr-runtime version {__version__}\nspec: {SPEC_VERSION}")
        return 0
    if not a.verb:
        parser.print_help()
        return 1
    if a.explain:
        from minictr.runtime import explain
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


if __name__ == "__main__":
    sys.exit(main())
