"""The flags of `run` and `create` (docker's names and short forms) as one
table, and their values turned into an engine ContainerSpec; every value is
checked here, before anything is made. Free of click: a plain `run` is
parsed without it (minictr.cli.entry)."""
from __future__ import annotations

from minictr.cli.flag_table import CHOICE, FLAG, INT, MULTI, TEXT, TOGGLE, Flag
from minictr.engine import modes, options
from minictr.engine.security import parse_security_opts
from minictr.engine.spec import ContainerSpec

CREATE_FLAGS = [
    Flag(("-i", "--interactive"), FLAG, "Keep STDIN open even if not attached"),
    Flag(("-t", "--tty"), FLAG, "Allocate a pseudo-TTY"),
    Flag(("--name",), TEXT, "Assign a name to the container", default=""),
    Flag(("-e", "--env"), MULTI, "Set environment variables"),
    Flag(("--env-file",), MULTI, "Read in a file of environment variables"),
    Flag(("-v", "--volume"), MULTI, "Bind mount a volume", dest="volumes"),
    Flag(("-p", "--publish"), MULTI, "Publish a container's port(s) to the host"),
    Flag(("-P", "--publish-all"), FLAG, "Publish all exposed ports to random ports"),
    Flag(("--network", "--net"), TEXT, "Connect a container to a network", default="bridge", dest="network"),
    Flag(("-h", "--hostname"), TEXT, "Container host name", default=""),
    Flag(("--ipc",), TEXT, "IPC mode to use", default=""),
    Flag(("--pid",), TEXT, "PID namespace to use", default=""),
    Flag(("--uts",), TEXT, "UTS namespace to use", default=""),
    Flag(("-m", "--memory"), TEXT, "Memory limit"),
    Flag(("--memory-swap",), TEXT, "Swap limit equal to memory plus swap: '-1' for unlimited"),
    Flag(("--cpus",), TEXT, "Number of CPUs"),
    Flag(("-c", "--cpu-shares"), INT, "CPU shares (relative weight)", default=0),
    Flag(("--pids-limit",), INT, "Tune container pids limit (-1 for unlimited)", default=0),
    Flag(("-u", "--user"), TEXT, "Username or UID (format: <name|uid>[:<group|gid>])", default=""),
    Flag(("-w", "--workdir"), TEXT, "Working directory inside the container", default=""),
    Flag(("--entrypoint",), TEXT, "Overwrite the default ENTRYPOINT of the image"),
    Flag(("--restart",), TEXT, "Restart policy to apply when a container exits", default="no"),
    Flag(("--read-only",), FLAG, "Mount the container's root filesystem as read only"),
    Flag(("--cap-add",), MULTI, "Add Linux capabilities"),
    Flag(("--cap-drop",), MULTI, "Drop Linux capabilities"),
    Flag(("--privileged",), FLAG, "Give extended privileges to this container"),
    Flag(("--security-opt",), MULTI, "Security Options (seccomp=unconfined|PROFILE.json, no-new-privileges)"),
    Flag(("-l", "--label"), MULTI, "Set meta data on a container", dest="labels"),
    Flag(("--stop-signal",), TEXT, "Signal to stop the container", default=""),
    Flag(("--stop-timeout",), INT, "Timeout (in seconds) to stop a container"),
    Flag(("--add-host",), MULTI, "Add a custom host-to-IP mapping (host:ip)"),
    Flag(("--dns",), MULTI, "Set custom DNS servers"),
    Flag(("--dns-search",), MULTI, "Set custom DNS search domains"),
    Flag(("--dns-option",), MULTI, "Set DNS options"),
    Flag(("--sysctl",), MULTI, "Sysctl options"),
    Flag(("--group-add",), MULTI, "Add additional groups to join"),
    Flag(("--oom-score-adj",), INT, "Tune host's OOM preferences (-1000 to 1000)"),
    Flag(("--cpu-quota",), INT, "Limit CPU CFS (Completely Fair Scheduler) quota", default=0),
    Flag(("--cpu-period",), INT, "Limit CPU CFS (Completely Fair Scheduler) period", default=0),
    Flag(("--cpuset-cpus",), TEXT, "CPUs in which to allow execution (0-3, 0,1)", default=""),
    Flag(("--cpuset-mems",), TEXT, "MEMs in which to allow execution (0-3, 0,1)", default=""),
    Flag(("--device",), MULTI, "Add a host device to the container"),
    Flag(("--cgroup-parent",), TEXT, "Optional parent cgroup for the container", default=""),
    Flag(("--init",), FLAG, "Run an init inside the container"),
    Flag(("--rm",), FLAG, "Automatically remove the container when it exits", dest="auto_remove"),
    Flag(("--log-opt",), MULTI, "Log driver options (max-size, max-file)"),
    Flag(("--runtime",), TEXT, "A runc-compatible runtime binary instead of the built-in one", default=""),
    Flag(("--platform",), TEXT, "Set platform if server is multi-platform capable"),
    Flag(("--pull",), CHOICE, "Pull image before running", default="missing", dest="pull_policy",
         choices=("missing", "always", "never")),
]

# `run` only, after the create flags
RUN_FLAGS = [
    Flag(("-d", "--detach"), FLAG, "Run container in background and print container ID"),
    Flag(("-a", "--attach"), MULTI, "Attach to STDIN, STDOUT or STDERR", dest="attach_streams"),
    Flag(("--detach-keys",), TEXT, "Override the key sequence for detaching", default="ctrl-p,ctrl-q"),
    Flag(("--sig-proxy/--no-sig-proxy",), TOGGLE, "Proxy received signals to the process", default=True),
]


INT64 = (-2**63, 2**63 - 1)


def _check_int_ranges(kw: dict) -> None:
    """Go's int64 flags refuse what does not fit; docker's words for it."""
    for flag in CREATE_FLAGS:
        value = kw.get(flag.dest)
        if flag.kind == INT and value is not None and not INT64[0] <= value <= INT64[1]:
            name = max((d for d in flag.decls if d.startswith("--")), key=len)
            raise options.InvalidOption(f'invalid argument "{value}" for "{name}" flag: '
                                        f'strconv.ParseInt: parsing "{value}": value out of range')


def spec_from_flags(image: str, command: tuple[str, ...], kw: dict) -> ContainerSpec:
    _check_int_ranges(kw)
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
    security = parse_security_opts(list(kw["security_opt"]))
    if kw["hostname"] and network.startswith("container:"):
        raise options.InvalidOption("conflicting options: hostname and the network mode")
    for flag in ("ipc", "pid", "uts"):
        mode = modes.parse(flag, kw[flag])
        if flag == "uts" and mode.joins:
            raise options.InvalidOption("--uts: invalid UTS mode")   # docker's CLI: host only
    if kw["hostname"] and kw["uts"] == "host":
        raise options.InvalidOption("conflicting options: hostname and the UTS mode")
    return ContainerSpec(
        image=image, cmd=list(command) or None, entrypoint=entrypoint, env=env, workdir=kw["workdir"],
        user=kw["user"], tty=kw["tty"], open_stdin=kw["interactive"], stdin_once=kw["interactive"],
        hostname=kw["hostname"], labels=options.parse_labels(list(kw["labels"])), network=network,
        ipc=kw["ipc"], pid=kw["pid"], uts=kw["uts"],
        publish=publish, publish_all=kw["publish_all"],
        volumes=[options.parse_volume(v) for v in kw["volumes"]],
        memory=options.parse_bytes(kw["memory"]) if kw["memory"] else 0,
        memory_swap=options.parse_memory_swap(kw["memory_swap"]) if kw["memory_swap"] else 0,
        nano_cpus=options.parse_cpus(kw["cpus"]) if kw["cpus"] else 0,
        cpu_shares=kw["cpu_shares"], pids_limit=max(kw["pids_limit"], 0), restart=restart,
        restart_max=restart_max, read_only=kw["read_only"], cap_add=list(kw["cap_add"]),
        cap_drop=list(kw["cap_drop"]), privileged=kw["privileged"],
        security_opt=list(kw["security_opt"]), seccomp_profile=security.seccomp,
        no_new_privileges=security.no_new_privileges, unmask_systempaths=security.unmask_systempaths,
        stop_signal=kw["stop_signal"],
        stop_timeout=kw["stop_timeout"], add_hosts=[list(options.parse_add_host(h)) for h in kw["add_host"]],
        dns=[options.parse_dns(d) for d in kw["dns"]], init=kw["init"], auto_remove=kw["auto_remove"],
        log_max_size=log_max_size,
        log_max_file=log_max_file, runtime=kw["runtime"],
        dns_search=list(kw["dns_search"]), dns_options=list(kw["dns_option"]),
        sysctls=options.parse_sysctls(list(kw["sysctl"])), group_add=list(kw["group_add"]),
        oom_score_adj=options.parse_oom_score_adj(kw["oom_score_adj"]),
        cpu_quota=kw["cpu_quota"], cpu_period=kw["cpu_period"], cpuset_cpus=kw["cpuset_cpus"],
        cpuset_mems=kw["cpuset_mems"], devices=[options.parse_device(d) for d in kw["device"]],
        cgroup_parent=kw["cgroup_parent"])
