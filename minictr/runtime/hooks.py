"""Lifecycle hooks run by the runtime itself (everything but startContainer,
which the container's init runs inside the container: cshim/hooks.c).
Each hook gets the state JSON on stdin; a timeout kills it."""
from __future__ import annotations

from minictr import jsonio

from minictr import explain
from minictr.runtime.errors import RuntimeFailure


def run_hooks(kind: str, hooks: list[dict], state: dict) -> None:
    """Raise RuntimeFailure on the first failing hook."""
    import subprocess  # only when there are hooks: it costs start-up time
    payload = jsonio.dumps(state).encode()
    for i, h in enumerate(hooks):
        path = h["path"]
        args = h.get("args") or [path]
        explain.step(f"fork+execve {kind} hook", f"{path} with the container state on stdin")
        try:
            proc = subprocess.run(args, executable=path, input=payload, env=_env(h.get("env")),
                                  timeout=h.get("timeout"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except subprocess.TimeoutExpired:
            raise RuntimeFailure(f"hooks.{kind}[{i}]: {path} timed out after {h.get('timeout')}s") from None
        except OSError as e:
            raise RuntimeFailure(f"hooks.{kind}[{i}]: cannot run {path}: {e.strerror}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).decode(errors="replace").strip()
            raise RuntimeFailure(f"hooks.{kind}[{i}]: {path} exited with status {proc.returncode}"
                                 + (f": {detail}" if detail else ""))


def _env(entries: list[str] | None) -> dict:
    env = {}
    for e in entries or []:
        k, _, v = e.partition("=")
        env[k] = v
    return env


def hook_dicts(hooks) -> list[dict]:
    return [h.to_json() for h in hooks]
