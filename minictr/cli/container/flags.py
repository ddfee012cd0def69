"""The flags `run` and `create` share (docker's names and short forms),
turned into an engine ContainerSpec; every value is checked here, before
anything is made."""
from __future__ import annotations

import click

from minictr.engine import options
from minictr.engine.spec import ContainerSpec

_MULTI = dict(multiple=True, metavar="VALUE")

CREATE_FLAGS = [
    click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached"),
    click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY"),
    click.option("--name", default="", help="Assign a name to the container"),
    click.option("-e", "--env", **_MULTI, help="Set environment variables"),
    click.option("--env-file", **_MULTI, help="Read in a file of environment variables"),
    click.option("-v", "--volume", "volumes", **_MULTI, help="Bind mount a volume"),
    click.option("-p", "--publish", **_MULTI, help="Publish a container's port(s) to the host"),
    click.option("-P", "--publish-all", is_flag=True, help="Publish all exposed ports to random ports"),
    click.option("--network", "--net", "network", default="bridge", help="Connect a container to a network"),
    click.option("-h", "--hostname", default="", help="Container host name"),
    click.option("-m", "--memory", default=None, help="Memory limit"),
    click.option("--memory-swap", default=None, help="Swap limit equal to memory plus swap: '-1' for unlimited"),
    click.option("--cpus", default=None, help="Number of CPUs"),
    click.option("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)"),
    click.option("--pids-limit", type=int, default=0, help="Tune container pids limit (-1 for unlimited)"),
    click.option("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])"),
    click.option("-w", "--workdir", default="", help="Working directory inside the container"),
    click.option("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image"),
    click.option("--restart", default="no", help="Restart policy to apply when a container exits"),
    click.option("--read-only", is_flag=True, help="Mount the container's root filesystem as read only"),
    click.option("--cap-add", **_MULTI, help="Add Linux capabilities"),
    click.option("--cap-drop", **_MULTI, help="Drop Linux capabilities"),
    click.option("--privileged", is_flag=True, help="Give extended privileges to this container"),
    click.option("-l", "--label", "labels", **_MULTI, help="Set meta data on a container"),
    click.option("--stop-signal", default="", help="Signal to stop the container"),
    click.option("--stop-timeout", type=int, default=None, help="Timeout (in seconds) to stop a container"),
    click.option("--add-host", **_MULTI, help="Add a custom host-to-IP mapping (host:ip)"),
    click.option("--dns", **_MULTI, help="Set custom DNS servers"),
    click.option("--init", is_flag=True, help="Run an init inside the container"),
    click.option("--rm", "auto_remove", is_flag=True, help="Automatically remove the container when it exits"),
    click.option("--log-opt", **_MULTI, help="Log driver options (max-size, max-file)"),
    click.option("--runtime", default="", help="A runc-compatible runtime binary instead of the built-in one"),
    click.option("--platform", default=None, help="Set platform if server is multi-platform capable"),
    click.option("--pull", "pull_policy", type=click.Choice(["missing", "always", "never"]), default="missing",
                 help="Pull image before running"),
]


def create_flags(fn):
    for option in reversed(CREATE_FLAGS):
        fn = option(fn)
    return fn


def spec_from_flags(image: str, command: tuple[str, ...], kw: dict) -> ContainerSpec:
    env = []
    for path in kw["env_file"]:
        env += options.parse_env_file(path)
    env += options.parse_env(list(kw["env"]))
    publish = []
    for item in kw["publish"]:
        publish += options.parse_publish(item)
    restart, restart_max = options.parse_restart(kw["restart"])
    if restart != "no" and kw["auto_remove"]:
        raise options.InvalidOption("Conflicting options: --restart and --rm")
    log_max_size, log_max_file = 0, 1
    for item in kw["log_opt"]:
        key, _, value = item.partition("=")
        if key == "max-size":
            log_max_size = options.parse_bytes(value, "--log-opt max-size")
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise options.InvalidOption(f"invalid value for max-file: {value}")
            log_max_file = int(value)
        else:
            raise options.InvalidOption(f"unknown log opt '{key}' for json-file log driver")
    if kw["stop_signal"]:
        options.parse_signal(kw["stop_signal"])
    entrypoint = None
    if kw["entrypoint"] is not None:
        entrypoint = [kw["entrypoint"]] if kw["entrypoint"] else []
    network = options.parse_network(kw["network"])
    if kw["hostname"] and network.startswith("container:"):
        raise options.InvalidOption("conflicting options: hostname and the network mode")
    return ContainerSpec(
        image=image, cmd=list(command) or None, entrypoint=entrypoint, env=env, workdir=kw["workdir"],
        user=kw["user"], tty=kw["tty"], open_stdin=kw["interactive"], stdin_once=kw["interactive"],
        hostname=kw["hostname"], labels=options.parse_labels(list(kw["labels"])), network=network,
        publish=publish, publish_all=kw["publish_all"],
        volumes=[options.parse_volume(v) for v in kw["volumes"]],
        memory=options.parse_bytes(kw["memory"]) if kw["memory"] else 0,
        memory_swap=options.parse_memory_swap(kw["memory_swap"]) if kw["memory_swap"] else 0,
        nano_cpus=options.parse_cpus(kw["cpus"]) if kw["cpus"] else 0,
        cpu_shares=kw["cpu_shares"], pids_limit=max(kw["pids_limit"], 0), restart=restart,
        restart_max=restart_max, read_only=kw["read_only"], cap_add=list(kw["cap_add"]),
        cap_drop=list(kw["cap_drop"]), privileged=kw["privileged"], stop_signal=kw["stop_signal"],
        stop_timeout=kw["stop_timeout"], add_hosts=[list(options.parse_add_host(h)) for h in kw["add_host"]],
        dns=list(kw["dns"]), init=kw["init"], auto_remove=kw["auto_remove"], log_max_size=log_max_size,
        log_max_file=log_max_file, runtime=kw["runtime"])


def puller(ctx, platform: str | None, policy: str):
    """docker's auto-pull: `Unable to find image 'x' locally`, then a pull
    with progress on stderr."""
    if policy == "never":
        return None

    def pull(ref: str) -> None:
        from minictr.cli.progress_view import progress_for
        from minictr.image.pull import pull as do_pull
        from minictr.image.pull import parse_reference
        ctx.err(f"Unable to find image '{parse_reference(ref).familiar()}' locally")
        progress = progress_for(_StderrCtx(ctx))
        do_pull(ctx.images, ctx.registry, ref, platform=platform, progress=progress)
    return pull


class _StderrCtx:
    """Progress goes to stderr during `run`: stdout is the container's."""

    def __init__(self, ctx):
        self.stdout = ctx.stderr
        self.stdout_is_tty = ctx.stderr_is_tty
