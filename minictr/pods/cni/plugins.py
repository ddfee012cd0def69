"""Running one CNI plugin: the executable found in the bin dirs, the
network configuration on stdin, the call's parameters in CNI_* variables
(spec section 2), and its stdout read back as a result or an error.

A plugin that fails prints a CNI error ({"code", "msg", "details"}) on
stdout and exits non-zero; one that crashed prints nothing useful there,
and its stderr is the best message. Either becomes a CNIPluginError."""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from minictr import jsonio
from minictr.pods.errors import CNIPluginError, CNIPluginNotFound, CNIResultError

DEFAULT_BIN_DIRS = ("/opt/cni/bin", "/usr/lib/cni")
DEFAULT_TIMEOUT = 60.0   # seconds one plugin call may take (dhcp waits for leases)


@dataclass(frozen=True)
class Invocation:
    """One plugin call's parameters: CNI_COMMAND and the rest of the spec's environment."""
    command: str                 # ADD, DEL, CHECK, VERSION
    container_id: str
    netns: str
    ifname: str
    args: tuple[tuple[str, str], ...] = ()
    bin_dirs: tuple[str, ...] = DEFAULT_BIN_DIRS

    def environ(self) -> dict[str, str]:
        # the caller's environment (PATH: plugins run iptables), without
        # stray CNI_* variables of its own
        env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
        env.update({
            "CNI_COMMAND": self.command,
            "CNI_CONTAINERID": self.container_id,
            "CNI_NETNS": self.netns,
            "CNI_IFNAME": self.ifname,
            "CNI_ARGS": ";".join(f"{k}={v}" for k, v in self.args),
            "CNI_PATH": os.pathsep.join(self.bin_dirs),
        })
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        return env


def find_plugin(kind: str, bin_dirs, network: str = "", source: str = "") -> str:
    """The executable for plugin `type` kind: the first bin dir holding it."""
    for d in bin_dirs:
        path = os.path.join(d, kind)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    where = f" (network {network!r} in {source})" if network else ""
    raise CNIPluginNotFound(f"CNI plugin {kind!r}{where} not found in {os.pathsep.join(bin_dirs) or 'no bin dir'}")


def run_plugin(path: str, conf: dict, call: Invocation, timeout: float = DEFAULT_TIMEOUT) -> dict | None:
    """Run the plugin at path; its parsed result (None when a DEL or CHECK
    printed nothing, as they may)."""
    kind = os.path.basename(path)
    what = f"CNI plugin {kind} {call.command} for network {conf.get('name')!r}"
    try:
        done = subprocess.run([path], input=jsonio.dumps(conf).encode(), env=call.environ(),
                              capture_output=True, timeout=timeout, close_fds=True, cwd="/")
    except subprocess.TimeoutExpired:
        raise CNIPluginError(f"{what} did not finish within {timeout:g}s", plugin=kind,
                             command=call.command) from None
    except OSError as e:
        raise CNIPluginError(f"{what} could not run: {e.strerror}", plugin=kind, command=call.command) from None
    if done.returncode != 0:
        raise _failure(what, kind, call.command, done)
    out = done.stdout.strip()
    if not out:
        if call.command == "ADD":
            raise CNIResultError(f"{what} succeeded but printed no result")
        return None
    try:
        return jsonio.loads(out)
    except (jsonio.JSONError, UnicodeDecodeError) as e:
        raise CNIResultError(f"{what} printed a result that is not JSON: {e}") from None


def _failure(what: str, kind: str, command: str, done: subprocess.CompletedProcess) -> CNIPluginError:
    try:
        err = jsonio.loads(done.stdout)
    except (jsonio.JSONError, UnicodeDecodeError):
        err = None
    if isinstance(err, dict) and ("msg" in err or "code" in err):
        code = err.get("code") if isinstance(err.get("code"), int) else None
        msg, details = str(err.get("msg", "")), str(err.get("details", ""))
        text = f"{what} failed: {msg}" + (f": {details}" if details else "") + (f" (code {code})" if code else "")
        return CNIPluginError(text, plugin=kind, command=command, code=code, msg=msg, details=details)
    stderr = done.stderr.decode(errors="replace").strip().splitlines()
    tail = stderr[-1] if stderr else "no error message"
    status = f"signal {-done.returncode}" if done.returncode < 0 else f"status {done.returncode}"
    return CNIPluginError(f"{what} failed ({status}): {tail}", plugin=kind, command=command, msg=tail)
