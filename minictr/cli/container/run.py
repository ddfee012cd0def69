"""`minictr run`, `create`, `start`: docker's flags and behaviour. A
foreground run attaches before the process starts (no output is lost),
proxies stdio (a real pty with -t), and cleans up itself when the
container exits (the shim is told so); `-d` prints the ID and leaves the
container to its shim."""
from __future__ import annotations

import signal
import sys

import click

from minictr.cli.container.flags import create_flags, puller, spec_from_flags

_RUN_SETTINGS = {"allow_interspersed_args": False}


def _create(ctx, image: str, command, kw: dict):
    spec = spec_from_flags(image, command, kw)
    engine = ctx.engine
    if kw.get("pull_policy") == "always":
        puller(ctx, kw["platform"], "always")(image)
    return engine.create(spec, name=kw["name"], pull=puller(ctx, kw["platform"], kw["pull_policy"]))


@click.command(context_settings=_RUN_SETTINGS)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@create_flags
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print container ID")
@click.option("-a", "--attach", "attach_streams", multiple=True, help="Attach to STDIN, STDOUT or STDERR")
@click.option("--detach-keys", default="ctrl-p,ctrl-q", help="Override the key sequence for detaching")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy received signals to the process")
@click.pass_obj
def run(ctx, image, command, detach, attach_streams, detach_keys, sig_proxy, **kw) -> None:
    """Create and run a new container from an image."""
    rec = _create(ctx, image, command, kw)
    engine = ctx.engine
    if detach:
        engine.start(rec)
        ctx.out(rec.id)
        return
    code = _run_attached(ctx, rec, stdin=kw["interactive"], detach_keys=detach_keys, sig_proxy=sig_proxy)
    if code:
        raise SystemExit(code)


def _run_attached(ctx, rec, stdin: bool, detach_keys: str, sig_proxy: bool) -> int | None:
    """Attach, start, proxy; the exit code, or None after a detach."""
    from minictr.engine.shim import AttachClient, attach_terminal
    engine = ctx.engine
    holder: dict = {}

    def attach(started) -> None:
        client = AttachClient(engine.paths(started.id).run_dir)
        client.claim_cleanup()
        holder["client"] = client

    rec = engine.start(rec, attach=attach)
    client = holder["client"]
    restore = _proxy_signals(engine, rec) if sig_proxy and not rec.spec.tty else None
    try:
        code = attach_terminal(client, sys.stdin.fileno() if stdin else None, sys.stdout.fileno(),
                               sys.stderr.fileno(), tty=rec.spec.tty, detach_keys=parse_detach_keys(detach_keys))
    finally:
        if restore:
            restore()
    if code is None:   # detached: the shim cleans up when it exits
        client.close()
        return None
    engine.cleanup(rec.id)
    client.cleanup_done()
    client.close()
    return code


def _proxy_signals(engine, rec):
    """docker's --sig-proxy: signals we get go to the container's process."""
    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)

    def forward(signum, frame) -> None:
        try:
            engine.kill(rec, signum)
        except Exception:  # it may have exited meanwhile
            pass
    old = {s: signal.signal(s, forward) for s in caught}

    def restore() -> None:
        for s, handler in old.items():
            signal.signal(s, handler)
    return restore


def parse_detach_keys(text: str) -> bytes:
    """docker's --detach-keys: comma-separated `ctrl-<letter>` or single characters."""
    from minictr.errors import MinictrError
    out = bytearray()
    for key in text.split(","):
        key = key.strip()
        if key.startswith("ctrl-") and len(key) == 6:
            ch = key[5].lower()
            codes = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
            elif ch in codes:
                out.append(codes[ch])
            else:
                raise MinictrError(f"Invalid detach keys ({text}) provided")
        elif len(key) == 1:
            out.append(ord(key))
        else:
            raise MinictrError(f"Invalid detach keys ({text}) provided")
    return bytes(out)


@click.command(context_settings=_RUN_SETTINGS)
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@create_flags
@click.pass_obj
def create(ctx, image, command, **kw) -> None:
    """Create a new container."""
    rec = _create(ctx, image, command, kw)
    ctx.out(rec.id)


@click.command()
@click.argument("containers", nargs=-1, required=True)
@click.option("-a", "--attach", "attach_", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.option("--detach-keys", default="ctrl-p,ctrl-q", help="Override the key sequence for detaching")
@click.pass_obj
def start(ctx, containers, attach_, interactive, detach_keys) -> None:
    """Start one or more stopped containers."""
    from minictr.errors import MinictrError
    engine = ctx.engine
    if attach_ or interactive:
        if len(containers) > 1:
            raise MinictrError("you cannot start and attach multiple containers at once")
        rec = engine.lookup(containers[0])
        code = _run_attached(ctx, rec, stdin=interactive, detach_keys=detach_keys, sig_proxy=True)
        if code:
            raise SystemExit(code)
        return
    from minictr.cli.each import for_each
    for_each(ctx, containers, lambda name: engine.start(engine.lookup(name)) and None)
