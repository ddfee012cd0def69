"""Networks: the bridge driver's API for the engine. It ties the pieces
together: the database (store, under BEGIN IMMEDIATE for addresses and
ports), the kernel (links via rtnl, rules via iptables), and the files
(hosts rewritten when peers come and go).

Order of work, so a failure leaves nothing: check and reserve in the
database first (a port clash is raised before anything exists), then the
kernel steps, each undone if a later one fails, then the reservation is
dropped too."""
from __future__ import annotations

import os
import time

from minictr.clock import now_rfc3339
from minictr.ids import new_id
from minictr.network import rules as rule_specs
from minictr.network.config import AUTO_SIZE, DEFAULT_NETWORK, HOST_LOCK, NetworkConfig
from minictr.network.errors import ActiveEndpoints, NetworkConfigError, NetworkError, NetworkExists, SubnetOverlap
from minictr.network.ipam import (Subnet, int_to_ip, ip_to_int, mac_for_ip, parse_gateway, parse_subnet,
                                  pick_address, pick_subnet)
from minictr.network.records import Endpoint, Network, PortMapping
from minictr.network.store import Store
from minictr.explain import step
from minictr.state import sqlite
from minictr.state.db import transaction
from minictr.state.locks import FileLock

PREDEFINED = ("bridge", "host", "none")
NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"  # docker's


def _network_tags(net: Network) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {"nat": [], "filter": []}
    for spec in rule_specs.base_specs() + _specs_of(net):
        tags[spec.table].append(spec.tag)
    return tags


def _specs_of(net: Network):
    return rule_specs.network_specs(net.id, net.name, net.bridge, net.subnet, net.internal)


def _port_chains(net: Network, ep: Endpoint) -> rule_specs.ChainSet:
    """An endpoint's published ports: its rules in chains of its own."""
    specs = []
    for p in ep.ports:
        specs += rule_specs.port_specs(ep.id, ep.container_name, net.bridge, ep.ip, p.host_ip, p.host_port,
                                       p.container_port, p.proto)
    return rule_specs.endpoint_chains(ep.id, specs)


def _unpublish(chains: rule_specs.ChainSet, prefixes: tuple[str, ...]) -> None:
    """Endpoints' port chains and the jumps into them away, in one
    restore call. Rules tagged with their prefixes anywhere else (an older
    minictr wrote them straight into the shared chains), or jumps that no
    longer read as this version writes them, go by tag through
    python-iptables first."""
    from minictr.network import iptables, restore
    seen = restore.read(chains)
    if any(restore.strays(seen, chains, prefix) for prefix in prefixes):
        iptables.apply(remove_prefixes=prefixes)
        seen = None
    try:
        restore.remove(chains, seen, what="take the published ports down")
    except restore.RestoreFailed:
        iptables.apply(remove_prefixes=prefixes)
        restore.remove(chains, what="take the published ports down")


class Networks:
    """The networks of one engine root. `conn` is the engine's database
    connection (minictr.state.db.connect)."""

    def __init__(self, root: str, conn: sqlite.Connection, config: NetworkConfig | None = None):
        self.root = root
        self.conn = conn
        self.store = Store(conn)
        self._config = config
        self._rt = None

    @property
    def config(self) -> NetworkConfig:
        if self._config is None:
            self._config = NetworkConfig.load(root=self.root)
        return self._config

    @property
    def rt(self):
        if self._rt is None:
            from minictr.network.rtnl import RtnlSocket
            self._rt = RtnlSocket()
        return self._rt

    def close(self) -> None:
        if self._rt is not None:
            self._rt.close()
            self._rt = None

    def _lock(self, name: str) -> FileLock:
        return FileLock(os.path.join(self.root, "locks", f"network-{name}.lock"))

    # -- networks ------------------------------------------------------------

    def ensure_default(self) -> Network:
        """The default bridge network, made ready if it is not: bridge device
        with the gateway address, sysctls, base chains and this network's
        rules. When all of that is in place already (the usual case), this
        costs a few netlink messages and one read of each legacy table."""
        cfg = self.config
        net = self.store.default_network()
        if cfg.auto:
            if net is not None and net.bridge == cfg.bridge and self._ready(net):
                return net
            return self._ensure_auto_default(cfg)
        if net is not None and (net.bridge, net.subnet, net.gateway) == (cfg.bridge, cfg.subnet, cfg.gateway) \
                and self._ready(net):
            return net
        with self._lock("setup"):
            net = self.store.default_network()
            if net is not None and (net.bridge, net.subnet, net.gateway) == (cfg.bridge, cfg.subnet, cfg.gateway) \
                    and self._ready(net):
                return net  # another process set it up while we waited
            return self._put_default(net, cfg)

    def _ensure_auto_default(self, cfg: NetworkConfig) -> Network:
        """A root's own default network: its bridge, on a /24 no host route
        (so no other root's bridge) uses, chosen under the host-wide lock
        and kept in this root's database once chosen."""
        with host_lock(), self._lock("setup"):
            net = self.store.default_network()
            if net is not None and net.bridge == cfg.bridge:
                if not self._ready(net):
                    self._setup(net)
                return net
            from minictr.network import overlap
            routes = [route for route, _dev in overlap.host_routes(self.rt, (cfg.bridge,))]
            subnet = pick_subnet([(parse_subnet(cfg.subnet), AUTO_SIZE)], routes)
            return self._put_default(net, NetworkConfig(cfg.bridge, str(subnet), None, cfg.pools, cfg.source))

    def _put_default(self, net: Network | None, cfg: NetworkConfig) -> Network:
        """The default network made as cfg says (or moved there), set up;
        the caller holds the setup lock."""
        if net is None:
            net = Network(id=new_id(), name=DEFAULT_NETWORK, bridge=cfg.bridge, subnet=cfg.subnet,
                          gateway=cfg.gateway, created=now_rfc3339(), is_default=True)
            self._setup(net)
            with transaction(self.conn):
                self.store.add_network(net)
            return net
        if (net.bridge, net.subnet, net.gateway) != (cfg.bridge, cfg.subnet, cfg.gateway):
            net = self._reconfigure_default(net, cfg)
        self._setup(net)
        return net

    def _reconfigure_default(self, net: Network, cfg: NetworkConfig) -> Network:
        """The configuration changed (another subnet or device): move the
        default network there if no container is attached."""
        if self.store.endpoint_count(net.id):
            raise NetworkConfigError(
                f"the default network is configured as {cfg.bridge} {cfg.subnet} but containers are attached to "
                f"it on {net.bridge} {net.subnet}; stop them first")
        self._teardown_kernel(net)
        with transaction(self.conn):
            self.store.update_network_address(net.id, cfg.bridge, cfg.subnet, cfg.gateway)
        return self.store.network(net.id)

    def _ready(self, net: Network) -> bool:
        from minictr.network import links, xtables_probe
        return (links.bridge_ready(self.rt, net.bridge, net.gateway, net.prefixlen)
                and links.sysctls_ready(net.bridge)
                and xtables_probe.tags_present(_network_tags(net)))

    def _setup(self, net: Network) -> None:
        """Bridge, address, sysctls, rules; undone if any of it fails."""
        from minictr.network import iptables, links, overlap
        overlap.check(self.rt, parse_subnet(net.subnet), net.bridge)
        created = False
        try:
            created = links.ensure_bridge(self.rt, net.bridge, net.gateway, net.prefixlen)
            iptables.apply(add=_specs_of(net))
        except BaseException:
            if created:
                links.delete_link(self.rt, net.bridge, "undo a failed network setup")
            try:
                iptables.apply(remove_prefixes=(rule_specs.network_prefix(net.id),), prune=True)
            except NetworkError:
                pass
            raise

    def _teardown_kernel(self, net: Network) -> None:
        from minictr.network import iptables, links
        iptables.apply(remove_prefixes=(rule_specs.network_prefix(net.id),), prune=True)
        links.delete_link(self.rt, net.bridge, f"network {net.name} is removed")

    def create(self, name: str, subnet: str | None = None, gateway: str | None = None, labels: dict | None = None,
               internal: bool = False) -> Network:
        """A user-defined network on its own bridge (mc-<12 hex of its ID>);
        without a subnet, the first free one of the address pools."""
        import re
        if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
            raise NetworkConfigError(f"invalid network name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        if name in PREDEFINED:
            raise NetworkExists(f"network with name {name} already exists")
        if gateway and not subnet:
            raise NetworkConfigError("a gateway needs a subnet (--subnet) to go with it")
        wanted = parse_subnet(subnet) if subnet else None
        gateway = parse_gateway(gateway, wanted) if wanted else None
        labels = dict(labels or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise NetworkConfigError("labels must map strings to strings")
        from minictr.network import overlap
        with host_lock(), self._lock("setup"):
            if self.store.network_by_name(name):
                raise NetworkExists(f"network with name {name} already exists")
            taken = [parse_subnet(n.subnet) for n in self.store.networks()]
            if wanted is not None:
                for other in self.store.networks():
                    if parse_subnet(other.subnet).overlaps(wanted):
                        raise SubnetOverlap(f"Pool overlaps with other one on this address space: {wanted} "
                                            f"overlaps network {other.name} ({other.subnet})")
            else:
                routes = [route for route, _dev in overlap.host_routes(self.rt)]
                wanted = pick_subnet(self.config.pools, taken + routes)
                gateway = int_to_ip(wanted.first_host())
            net_id = new_id()
            net = Network(id=net_id, name=name, bridge=f"mc-{net_id[:12]}", subnet=str(wanted), gateway=gateway,
                          created=now_rfc3339(), labels=labels, internal=bool(internal))
            self._setup(net)
            try:
                with transaction(self.conn):
                    self.store.add_network(net)
            except BaseException:
                self._teardown_kernel(net)
                raise
            return net

    def list(self) -> list[Network]:
        return self.store.networks()

    def get(self, name_or_id: str) -> Network:
        return self.store.network(name_or_id)

    def _net(self, net) -> Network:
        return net if isinstance(net, Network) else self.store.network(net)

    def remove(self, name_or_id, default_too: bool = False) -> Network:
        """default_too: the default network as well (its bridge and rules
        come back with the next container that needs them)."""
        net = self._net(name_or_id)
        if net.is_default and not default_too:
            raise NetworkError(f"{net.name} is a pre-defined network and cannot be removed")
        with self._lock("setup"):
            try:
                with transaction(self.conn):
                    if self.store.endpoint_count(net.id):
                        raise ActiveEndpoints(f"error while removing network: network {net.name} id {net.id} "
                                              "has active endpoints")
                    self.store.delete_network(net.id)
            except sqlite.IntegrityError:  # an endpoint came in between
                raise ActiveEndpoints(f"error while removing network: network {net.name} id {net.id} "
                                      "has active endpoints") from None
            self._teardown_kernel(net)
        return net

    def prune(self, default_too: bool = False) -> list[str]:
        """Remove user-defined networks no container uses, their bridges and
        rules (default_too: the default network's as well, so the root
        leaves nothing on the host); the user networks' names."""
        removed = []
        for net in self.store.networks():
            if (default_too or not net.is_default) and not self.store.endpoint_count(net.id):
                try:
                    self.remove(net, default_too=default_too)
                except ActiveEndpoints:
                    continue
                if not net.is_default:
                    removed.append(net.name)
        return removed

    def teardown_host_rules(self) -> None:
        """Take this root's rules out of the host's tables (networks and
        published ports), and our chains and jumps when nobody else's rules
        are left in them. ensure_default puts the default network's back."""
        from minictr.network import iptables, restore
        nets = self.store.networks()
        published = [ep for net in nets for ep in self.store.endpoints_of_network(net.id) if ep.ports]
        prefixes = tuple(rule_specs.network_prefix(n.id) for n in nets)
        prefixes += tuple(rule_specs.endpoint_prefix(ep.id) for ep in published)
        # by tag first: the ports' jumps (and any older layout's rules) go with the networks' rules
        iptables.apply(remove_prefixes=prefixes, prune=True)
        if published:
            chains = rule_specs.ChainSet()
            for ep in published:
                chains += _port_chains(ep.network, ep)
            restore.remove(chains, what="take the published ports down")

    def inspect(self, net) -> dict:
        from minictr.network.views import network_inspect
        net = self._net(net)
        return network_inspect(net, self.store.endpoints_of_network(net.id))

    # -- endpoints -------------------------------------------------------------

    def connect(self, net, container_id: str, container_name: str, netns_path: str, hostname: str,
                aliases=(), publish=(), hosts_path: str | None = None, extra_hosts=()) -> Endpoint:
        """Attach a container (its network namespace at `netns_path`) to a
        network: address, veth, eth0, route, published ports, hosts files.
        `extra_hosts`: --add-host (name, ip) pairs kept in its hosts file."""
        net = self._net(net)
        publish = [p if isinstance(p, PortMapping) else PortMapping(**p) for p in publish]
        endpoint_id = new_id()
        with transaction(self.conn):
            net = self.store.network(net.id)  # still there
            for other in self.store.endpoints_of_container(container_id):
                if other.network.id == net.id:
                    raise NetworkError(f"endpoint with name {container_name} already exists in network {net.name}")
            subnet = parse_subnet(net.subnet)
            address = pick_address(subnet, net.gateway, {ip_to_int(ip) for ip in self.store.used_ips(net.id)})
            ports = []
            if publish:
                from minictr.network import ports as port_checks
                ports = port_checks.resolve(publish, [p for p, _cid in self.store.published_ports()])
            ep = Endpoint(network=net, ip=int_to_ip(address), prefixlen=subnet.prefixlen, gateway=net.gateway,
                          mac=mac_for_ip(address), host_veth=f"vmc{endpoint_id[:10]}", ports=ports, id=endpoint_id,
                          container_id=container_id, container_name=container_name, aliases=list(aliases),
                          hostname=hostname, hosts_path=hosts_path or "", extra_hosts=[tuple(e) for e in extra_hosts])
            self.store.add_endpoint(ep, time.time())
        try:
            self._plug(net, ep, subnet, netns_path)
            self._rewrite_hosts(net, container_id)
        except BaseException:
            with transaction(self.conn):
                self.store.delete_endpoint(ep.id)
            try:
                self._rewrite_hosts(net, None)
            except OSError:
                pass
            raise
        return ep

    def _plug(self, net: Network, ep: Endpoint, subnet: Subnet, netns_path: str) -> None:
        from minictr.network import links
        links.attach(self.rt, net.bridge, ep.host_veth, netns_path, ep.mac, ep.ip, ep.prefixlen,
                     None if net.internal else net.gateway, int_to_ip(subnet.broadcast))
        if ep.ports:
            from minictr.network import restore
            chains = _port_chains(net, ep)
            try:
                restore.write(chains, what=f"publish the ports of container {ep.container_name}")
            except BaseException:
                links.delete_link(self.rt, ep.host_veth, "undo a failed attach")
                try:
                    restore.remove(chains, what="undo a failed attach")
                except NetworkError:
                    pass
                raise

    def disconnect(self, container_id: str, net=None, netns_gone: bool = False) -> list[Endpoint]:
        """Detach a container from one network (or all): veth, rules,
        address, and its name from the peers' hosts files. Detaching what is
        not attached does nothing. Returns the endpoints removed.
        netns_gone: no process holds the container's network namespace any
        more; the kernel deletes the veth pair with it (a delete of ours
        would only wait for the same work, ~10 ms of every `run --rm`)."""
        wanted = self._net(net).id if net is not None else None
        removed = []
        for ep in self.store.endpoints_of_container(container_id):
            if wanted and ep.network.id != wanted:
                continue
            from minictr.network import links
            if netns_gone:
                step(f"(ip link del {ep.host_veth})", "the kernel deletes the veth pair with the container's "
                                                       "network namespace")
            else:
                links.delete_link(self.rt, ep.host_veth, f"container {ep.container_name} leaves {ep.network.name}")
            if ep.ports:
                _unpublish(_port_chains(ep.network, ep), (rule_specs.endpoint_prefix(ep.id),))
            with transaction(self.conn):
                self.store.delete_endpoint(ep.id)
            # the peers lose its name; it loses theirs if it stays on other networks
            self._rewrite_hosts(ep.network, container_id)
            removed.append(ep)
        return removed

    def disconnect_all(self, container_id: str, netns_gone: bool = False) -> list[Endpoint]:
        return self.disconnect(container_id, netns_gone=netns_gone)

    def endpoints_of(self, container_id: str) -> list[Endpoint]:
        return self.store.endpoints_of_container(container_id)

    def network_settings(self, container_id: str, exposed=(), sandbox_key: str = "") -> dict:
        from minictr.network.views import network_settings
        return network_settings(self.store.endpoints_of_container(container_id), exposed, sandbox_key)

    # -- hosts files -------------------------------------------------------------

    def hosts_content(self, container_id: str) -> str | None:
        """What a container's /etc/hosts holds now: its own address (first
        network joined), its --add-host entries, and on user-defined networks
        every other container there by name and aliases."""
        from minictr.network.files import render_hosts
        eps = self.store.endpoints_of_container(container_id)
        if not eps:
            return None
        own = eps[0]
        peers, seen = [], set()
        for ep in eps:
            if not ep.network.user_defined:
                continue
            for other in self.store.endpoints_of_network(ep.network.id):
                if other.container_id == container_id or (other.ip, other.container_name) in seen:
                    continue
                seen.add((other.ip, other.container_name))
                peers.append((other.ip, [other.container_name, *other.aliases]))
        extra = next((ep.extra_hosts for ep in eps if ep.extra_hosts), [])
        return render_hosts(own.hostname, own.ip, extra, peers, host_gateway=own.gateway)

    def _rewrite_hosts(self, net: Network, joining: str | None) -> None:
        """Rewrite, in place, the hosts file of the container joining and,
        on a user-defined network, of every container on it (peers' files
        only if they still exist: a removed container's are gone)."""
        from minictr.network.files import write_in_place
        with self._lock("hosts"):
            targets = {joining} if joining else set()
            if net.user_defined:
                targets.update(ep.container_id for ep in self.store.endpoints_of_network(net.id))
            for container_id in targets:
                eps = self.store.endpoints_of_container(container_id)
                path = next((ep.hosts_path for ep in reversed(eps) if ep.hosts_path), "")
                if not path or (container_id != joining and not os.path.exists(path)):
                    continue
                content = self.hosts_content(container_id)
                if content is not None:
                    write_in_place(path, content)


def host_lock() -> FileLock:
    """Held while a subnet is chosen and its bridge (so its route) made:
    engines on other roots choose after it and see the route."""
    return FileLock(HOST_LOCK)
