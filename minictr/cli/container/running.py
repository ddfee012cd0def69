"""What `run`, `create` and `start -a` do once their flags are parsed. A
foreground run attaches before the process starts (no output is lost),
proxies stdio (a real pty with -t), and cleans up itself when the
container exits (the shim is told so); `-d` prints the ID and leaves the
container to its shim. Free of click, as the flag table is: a plain `run`
comes here straight from the console script (minictr.cli.entry)."""
from __future__ import annotations

import sys

from minictr.cli.container.flags import spec_from_flags
from minictr.cli.pulling import puller


def create_container(ctx, image: str, command, kw: dict):
    spec = spec_from_flags(image, command, kw)
    engine = ctx.engine
    if kw.get("pull_policy") == "always":
        puller(ctx, kw["platform"], "always")(image)
    return engine.create(spec, name=kw["name"], pull=puller(ctx, kw["platform"], kw["pull_policy"]))


def run_container(ctx, image: str, command, kw: dict) -> None:
    """`kw` holds the create flags and run's own (minictr.cli.container.flags)."""
    rec = create_container(ctx, image, command, kw)
    engine = ctx.engine
    if kw["detach"]:
        engine.start(rec)
        ctx.out(rec.id)
        return
    code = run_attached(ctx, rec, stdin=kw["interactive"], detach_keys=kw["detach_keys"],
                        sig_proxy=kw["sig_proxy"])
    if code:
        raise SystemExit(code)


def run_attached(ctx, rec, stdin: bool, detach_keys: str, sig_proxy: bool) -> int | None:
    """Attach, start, proxy; the exit code, or None after a detach."""
    from minictr.engine.attach import AttachClient, attach_terminal
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
    from minictr.runtime import signals
    n = signals.NUMBERS
    caught = (n["SIGINT"], n["SIGTERM"], n["SIGHUP"], n["SIGQUIT"], n["SIGUSR1"], n["SIGUSR2"])

    def forward(signum, frame) -> None:
        try:
            engine.kill(rec, signum)
        except Exception:  # it may have exited meanwhile
            pass
    old = {s: signals.set_handler(s, forward) for s in caught}

    def restore() -> None:
        for s, handler in old.items():
            signals.set_handler(s, handler)
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
