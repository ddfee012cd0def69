"""Commands that connect to a container's process or output: exec,
attach, logs."""
from __future__ import annotations

import os
import sys

import click

from minictr.errors import MinictrError

_EXEC_SETTINGS = {"allow_interspersed_args": False}


@click.command(context_settings=_EXEC_SETTINGS)
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("--env-file", multiple=True, help="Read in a file of environment variables")
@click.option("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
@click.option("-w", "--workdir", default="", help="Working directory inside the container")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command")
@click.pass_obj
def exec_(ctx, container, command, interactive, tty, detach, env, env_file, user, workdir, privileged) -> None:
    """Execute a command in a running container."""
    from minictr.engine import options
    from minictr.engine.execs import exec_in
    variables = []
    for path in env_file:
        variables += options.parse_env_file(path)
    variables += options.parse_env(list(env))
    rec = ctx.engine.lookup(container)
    if tty and interactive and not detach and not sys.stdin.isatty():
        raise MinictrError("the input device is not a TTY")
    if not interactive:
        _stdin_from_devnull()
    code = exec_in(ctx.engine, rec, list(command), tty=tty, detach=detach,
                   env=variables, user=user, workdir=workdir, privileged=privileged)
    if code:
        raise SystemExit(code)


exec_.name = "exec"


def _stdin_from_devnull() -> None:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)


@click.command()
@click.argument("container")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@click.option("--detach-keys", default="ctrl-p,ctrl-q", help="Override the key sequence for detaching")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy all received signals to the process")
@click.pass_obj
def attach(ctx, container, no_stdin, detach_keys, sig_proxy) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    from minictr.cli.container.running import parse_detach_keys
    from minictr.engine.attach import AttachClient, attach_terminal
    rec = ctx.engine.lookup(container)
    if rec.status != "running":
        if rec.status == "paused":
            raise MinictrError("You cannot attach to a paused container, unpause it first")
        raise MinictrError("You cannot attach to a stopped container, start it first")
    client = AttachClient(ctx.engine.paths(rec.id).run_dir)
    stdin = None if no_stdin or not rec.spec.open_stdin else sys.stdin.fileno()
    try:
        code = attach_terminal(client, stdin, sys.stdout.fileno(), sys.stderr.fileno(), tty=rec.spec.tty,
                               detach_keys=parse_detach_keys(detach_keys))
    finally:
        client.close()
    if code:
        raise SystemExit(code)


@click.command()
@click.argument("container")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("-n", "--tail", default="all", help='Number of lines to show from the end of the logs')
@click.option("--since", default=None, help="Show logs since timestamp or relative (e.g. 42m)")
@click.option("--until", default=None, help="Show logs before a timestamp or relative (e.g. 42m)")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.pass_obj
def logs(ctx, container, follow, tail, since, until, timestamps) -> None:
    """Fetch the logs of a container."""
    from minictr.engine import logs as log_reader
    engine = ctx.engine
    rec = engine.lookup(container)
    if tail != "all" and not tail.lstrip("-").isdigit():
        raise MinictrError(f'invalid value for "tail": {tail}')
    count = None if tail == "all" or int(tail) < 0 else int(tail)
    since_ts = log_reader.parse_since(since) if since else None
    until_ts = log_reader.parse_since(until) if until else None
    path = rec.spec.log_path or engine.paths(rec.id).log
    out, err = sys.stdout.buffer, sys.stderr.buffer

    def emit(entry) -> None:
        stream, text, stamp = entry
        line = (f"{stamp} ".encode() if timestamps else b"") + (text if isinstance(text, bytes) else text.encode())
        target = err if stream == "stderr" else out
        target.write(line)
        target.flush()
    if follow:
        def stopped() -> bool:
            try:
                return engine.lookup(rec.id).status not in ("running", "paused", "restarting")
            except MinictrError:
                return True
        for entry in log_reader.follow_logs(path, tail=count, since=since_ts, stop=stopped):
            emit(entry)
        return
    for entry in log_reader.read_logs(path, tail=count, since=since_ts, until=until_ts):
        emit(entry)
