"""The engine's side of networking: the files every container gets
(/etc/hostname, /etc/hosts, /etc/resolv.conf, bind-mounted from the
container's dir) and its endpoint on a bridge network. The files are made
before the runtime creates the container (a bind mount needs its source);
the address is known only after, so connecting rewrites /etc/hosts in
place, which the bind mount shows at once."""
from __future__ import annotations

from minictr.engine import modes
from minictr.engine.records import ContainerRecord
from minictr.engine.spec import Publish
from minictr.network import files


def write(store, rec: ContainerRecord, hostname: str) -> dict[str, str]:
    """Writes the three files; returns {destination: source} for the bundle."""
    paths = store.paths(rec.id)
    spec = rec.spec
    mode = modes.network(spec.network)
    if mode.kind == modes.HOST:
        hosts = _read("/etc/hosts")
        resolv = _read("/etc/resolv.conf")
    elif mode.joins:
        other = store.records.lookup(mode.target)
        other_paths = store.paths(other.id)
        hosts, resolv = _read(other_paths.hosts), _read(other_paths.resolv_conf)
    else:
        hosts = files.render_hosts(hostname, None, [tuple(h) for h in spec.add_hosts])
        resolv = files.render_resolv(files.host_resolv_conf(), spec.dns, spec.dns_search, spec.dns_options)
    files.write_in_place(paths.hostname, hostname + "\n")
    files.write_in_place(paths.hosts, hosts)
    files.write_in_place(paths.resolv_conf, resolv)
    return {"/etc/hostname": paths.hostname, "/etc/hosts": paths.hosts, "/etc/resolv.conf": paths.resolv_conf}


def connect(nets, images, rec: ContainerRecord, netns_path: str, hostname: str, hosts_path: str) -> dict:
    """Joins the container to its network; returns docker's NetworkSettings."""
    mode = modes.network(rec.spec.network)
    network = nets.ensure_default() if mode.kind == modes.BRIDGE else nets.get(mode.target)
    publish = _publish_list(rec, images)
    from minictr.network.records import PortMapping   # with its errors ~0.3 ms: a bridge's start only
    mappings = [PortMapping(host_ip=p.host_ip, host_port=p.host_port, container_port=p.container_port,
                            proto=p.proto) for p in publish]
    nets.connect(network, rec.id, rec.name, netns_path, hostname, aliases=[], publish=mappings,
                 hosts_path=hosts_path, extra_hosts=[tuple(h) for h in rec.spec.add_hosts])
    return nets.network_settings(rec.id)


def disconnect(nets, rec: ContainerRecord, netns_gone: bool = False) -> None:
    nets.disconnect_all(rec.id, netns_gone=netns_gone)


def _publish_list(rec: ContainerRecord, images) -> list[Publish]:
    """-p ports, and with -P every port the image exposes on a free host port."""
    spec = rec.spec
    out = list(spec.publish)
    if spec.publish_all:
        taken = {(p.container_port, p.proto) for p in out}
        config = images.config_of(rec)
        for key in (config.get("ExposedPorts") or {}):
            port, _, proto = key.partition("/")
            if port.isdigit() and (int(port), proto or "tcp") not in taken:
                out.append(Publish(container_port=int(port), proto=proto or "tcp"))
    return out


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
