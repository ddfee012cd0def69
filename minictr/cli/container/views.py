"""Containers as docker shows them: `ps` rows (COMMAND quoted and cut,
STATUS "Up 2 minutes" / "Exited (0) 5 seconds ago", PORTS) and the
`inspect` document (State, Config, HostConfig, NetworkSettings, Mounts)."""
from __future__ import annotations

import datetime as _dt

from minictr.engine import bundle
from minictr.engine.records import ZERO_TIME, ContainerRecord


def parse_time(text: str) -> float | None:
    if not text or text == ZERO_TIME:
        return None
    base, _, frac = text.rstrip("Z").partition(".")
    try:
        stamp = _dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=_dt.timezone.utc).timestamp()
    except ValueError:
        return None
    return stamp + (float("0." + frac) if frac.isdigit() else 0.0)


def command_text(engine, rec: ContainerRecord) -> str:
    try:
        args = bundle.command(rec.spec, engine.image_config(engine.image_of(rec)))
    except Exception:
        args = list(rec.spec.cmd or [])
    return " ".join(args)


def status_text(rec: ContainerRecord, now: float) -> str:
    from minictr.cli.render import human_duration
    if rec.status in ("running", "paused"):
        started = parse_time(rec.started_at) or now
        text = f"Up {human_duration(now - started)}"
        return text + " (Paused)" if rec.status == "paused" else text
    if rec.status == "restarting":
        finished = parse_time(rec.finished_at) or now
        return f"Restarting ({rec.exit_code}) {human_duration(now - finished)} ago"
    if rec.status == "exited":
        finished = parse_time(rec.finished_at)
        if finished is None:
            return "Created"
        return f"Exited ({rec.exit_code}) {human_duration(now - finished)} ago"
    if rec.status == "created":
        return "Created"
    if rec.status == "removing":
        return "Removal In Progress"
    return rec.status.capitalize()


def ports_text(rec: ContainerRecord) -> str:
    ports = (rec.network or {}).get("Ports") or {}
    parts = []
    for key, bindings in sorted(ports.items(), key=lambda kv: _port_key(kv[0])):
        if not bindings:
            parts.append(key)
            continue
        for b in bindings:
            parts.append(f"{b.get('HostIp') or '0.0.0.0'}:{b['HostPort']}->{key}")
    return ", ".join(parts)


def _port_key(key: str) -> tuple:
    port, _, proto = key.partition("/")
    return (proto, int(port) if port.isdigit() else 0)


def ps_row(engine, rec: ContainerRecord, now: float, no_trunc: bool = False) -> dict:
    command = command_text(engine, rec)
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    image = rec.spec.image
    return {
        "ID": rec.id if no_trunc else rec.id[:12],
        "Image": image,
        "Command": f'"{command}"',
        "CreatedAt": rec.created_at,
        "RunningFor": _since(rec.created_at, now),
        "Status": status_text(rec, now),
        "State": rec.status,
        "Ports": ports_text(rec),
        "Names": rec.name,
        "Labels": ",".join(f"{k}={v}" for k, v in rec.spec.labels.items()),
        "Mounts": ",".join(v.source for v in rec.spec.volumes),
        "Networks": rec.spec.network if not rec.spec.network.startswith("container:") else "",
    }


def _since(text: str, now: float) -> str:
    from minictr.cli.render import human_duration
    stamp = parse_time(text)
    return f"{human_duration(now - stamp)} ago" if stamp is not None else ""


def inspect(engine, rec: ContainerRecord) -> dict:
    spec = rec.spec
    paths = engine.paths(rec.id)
    image = engine.images.records.get(rec.image_id)
    image_config = engine.image_config(image)
    try:
        args = bundle.command(spec, image_config)
    except Exception:
        args = []
    lowers = engine.images.snapshots.lowerdirs([layer.chain_id for layer in image.layers]) if image.layers else []
    env = bundle.environment(spec, image_config, spec.hostname or rec.id[:12])
    network = dict(rec.network or {})
    settings = {
        "Bridge": "", "SandboxID": "", "SandboxKey": f"/proc/{rec.pid}/ns/net" if rec.pid else "",
        "Ports": network.get("Ports", {}), "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "EndpointID": network.get("EndpointID", ""), "Gateway": network.get("Gateway", ""),
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": network.get("IPAddress", ""),
        "IPPrefixLen": network.get("IPPrefixLen", 0), "IPv6Gateway": "", "MacAddress": network.get("MacAddress", ""),
        "Networks": network.get("Networks", {}),
    }
    exposed = dict(image_config.get("ExposedPorts") or {})
    for p in spec.publish:
        exposed[f"{p.container_port}/{p.proto}"] = {}
    return {
        "Id": rec.id,
        "Created": rec.created_at,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": {
            "Status": rec.status,
            "Running": rec.status in ("running", "paused"),
            "Paused": rec.status == "paused",
            "Restarting": rec.status == "restarting",
            "OOMKilled": rec.oom_killed,
            "Dead": rec.status == "dead",
            "Pid": rec.pid if rec.status in ("running", "paused") else 0,
            "ExitCode": rec.exit_code,
            "Error": rec.error,
            "StartedAt": rec.started_at,
            "FinishedAt": rec.finished_at,
        },
        "Image": rec.image_id,
        "ResolvConfPath": paths.resolv_conf,
        "HostnamePath": paths.hostname,
        "HostsPath": paths.hosts,
        "LogPath": spec.log_path or paths.log,
        "Name": "/" + rec.name,
        "RestartCount": rec.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": {
            "Binds": [f"{v.source}:{v.destination}{':ro' if v.read_only else ''}"
                      for v in spec.volumes if not v.anonymous] or None,
            "LogConfig": {"Type": spec.log_format,
                          "Config": ({"max-size": str(spec.log_max_size), "max-file": str(spec.log_max_file)}
                                     if spec.log_max_size else {})},
            "NetworkMode": spec.network,
            "IpcMode": spec.ipc or "private",
            "PidMode": spec.pid,
            "UTSMode": spec.uts,
            "PortBindings": _port_bindings(spec),
            "RestartPolicy": {"Name": spec.restart, "MaximumRetryCount": spec.restart_max},
            "AutoRemove": spec.auto_remove,
            "CapAdd": spec.cap_add or None,
            "CapDrop": spec.cap_drop or None,
            "Dns": spec.dns,
            "DnsOptions": spec.dns_options,
            "DnsSearch": spec.dns_search,
            "GroupAdd": [str(g) for g in spec.group_add] or None,
            "OomScoreAdj": spec.oom_score_adj or 0,
            "Sysctls": dict(spec.sysctls) or None,
            "CgroupParent": spec.cgroup_parent,
            "CpuPeriod": spec.cpu_period,
            "CpuQuota": spec.cpu_quota,
            "CpusetCpus": spec.cpuset_cpus,
            "CpusetMems": spec.cpuset_mems,
            "Devices": [{"PathOnHost": d.host_path, "PathInContainer": d.container_path or d.host_path,
                         "CgroupPermissions": d.permissions} for d in spec.devices],
            "ExtraHosts": [f"{h}:{ip}" for h, ip in spec.add_hosts] or None,
            "Privileged": spec.privileged,
            "SecurityOpt": list(spec.security_opt) or (["label=disable"] if spec.privileged else None),
            "PublishAllPorts": spec.publish_all,
            "ReadonlyRootfs": spec.read_only,
            "Init": spec.init or None,
            "Memory": spec.memory,
            "MemorySwap": spec.memory_swap if spec.memory_swap else (spec.memory * 2 if spec.memory else 0),
            "NanoCpus": spec.nano_cpus,
            "CpuShares": spec.cpu_shares,
            "PidsLimit": spec.pids_limit or None,
            "Runtime": spec.runtime or "minictr-runtime",
        },
        "GraphDriver": {"Name": "overlay", "Data": {
            "LowerDir": ":".join(lowers), "UpperDir": paths.upper, "WorkDir": paths.work, "MergedDir": paths.rootfs}},
        "Mounts": [{"Type": v.type, **({"Name": v.source} if v.type == "volume" else {}),
                    "Source": v.source if v.type == "bind" else engine.volumes.path(v.source),
                    "Destination": v.destination, "Driver": "local" if v.type == "volume" else "",
                    "Mode": "ro" if v.read_only else "", "RW": not v.read_only,
                    "Propagation": v.propagation or ("rprivate" if v.type == "bind" else "")}
                   for v in spec.volumes],
        "Config": {
            "Hostname": spec.hostname or rec.id[:12],
            "Domainname": spec.domainname,
            "User": spec.user or image_config.get("User", ""),
            "AttachStdin": spec.open_stdin,
            "AttachStdout": True,
            "AttachStderr": True,
            **({"ExposedPorts": exposed} if exposed else {}),
            "Tty": spec.tty,
            "OpenStdin": spec.open_stdin,
            "StdinOnce": spec.stdin_once,
            "Env": env,
            "Cmd": spec.cmd if spec.cmd else (None if spec.entrypoint is not None else image_config.get("Cmd")),
            "Image": spec.image,
            "Volumes": {v.destination: {} for v in spec.volumes if v.type == "volume"} or None,
            "WorkingDir": spec.workdir or image_config.get("WorkingDir", ""),
            "Entrypoint": spec.entrypoint if spec.entrypoint is not None else image_config.get("Entrypoint"),
            "OnBuild": None,
            "Labels": {**(image_config.get("Labels") or {}), **spec.labels},
            **({"StopSignal": spec.stop_signal} if spec.stop_signal else {}),
            **({"StopTimeout": spec.stop_timeout} if spec.stop_timeout is not None else {}),
        },
        "NetworkSettings": settings,
    }


def _port_bindings(spec) -> dict:
    out: dict = {}
    for p in spec.publish:
        out.setdefault(f"{p.container_port}/{p.proto}", []).append(
            {"HostIp": p.host_ip, "HostPort": str(p.host_port) if p.host_port else ""})
    return out
