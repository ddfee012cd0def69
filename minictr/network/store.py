"""Networks and endpoints in the engine's SQLite database (migration 3).
Rows in, records out; the callers own the transactions."""
from __future__ import annotations

from minictr import jsonio
from minictr.network.errors import NetworkError, NetworkNotFound
from minictr.network.records import Endpoint, Network, PortMapping
from minictr.state import sqlite


def _network(row) -> Network:
    return Network(id=row["id"], name=row["name"], bridge=row["bridge"], subnet=row["subnet"],
                   gateway=row["gateway"], created=row["created"], labels=jsonio.loads(row["labels"]),
                   internal=bool(row["internal"]), is_default=bool(row["is_default"]), driver=row["driver"])


class Store:
    def __init__(self, conn: sqlite.Connection):
        self.conn = conn
        if conn.row_factory is None:  # db.connect sets it; a bare connection gets it here
            conn.row_factory = sqlite.Row

    # -- networks ----------------------------------------------------------

    def networks(self) -> list[Network]:
        return [_network(r) for r in self.conn.execute("SELECT * FROM networks ORDER BY created")]

    def network_by_name(self, name: str) -> Network | None:
        row = self.conn.execute("SELECT * FROM networks WHERE name = ?", (name,)).fetchone()
        return _network(row) if row else None

    def default_network(self) -> Network | None:
        row = self.conn.execute("SELECT * FROM networks WHERE is_default = 1").fetchone()
        return _network(row) if row else None

    def network(self, name_or_id: str) -> Network:
        """By full ID, by name, then by unique ID prefix (docker's order)."""
        if not name_or_id:
            raise NetworkNotFound("network name or ID must not be empty")
        row = self.conn.execute("SELECT * FROM networks WHERE id = ?", (name_or_id,)).fetchone()
        row = row or self.conn.execute("SELECT * FROM networks WHERE name = ?", (name_or_id,)).fetchone()
        if row is None and all(c in "0123456789abcdef" for c in name_or_id):
            rows = self.conn.execute("SELECT * FROM networks WHERE substr(id, 1, ?) = ?",
                                     (len(name_or_id), name_or_id)).fetchall()
            if len(rows) > 1:
                raise NetworkError(f"network {name_or_id} is ambiguous ({len(rows)} matches found based on ID prefix)")
            row = rows[0] if rows else None
        if row is None:
            raise NetworkNotFound(f"network {name_or_id} not found")
        return _network(row)

    def add_network(self, net: Network) -> None:
        self.conn.execute(
            "INSERT INTO networks (id, name, driver, bridge, subnet, gateway, created, labels, internal, is_default)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            (net.id, net.name, net.driver, net.bridge, net.subnet, net.gateway, net.created,
             jsonio.dumps(net.labels), int(net.internal), int(net.is_default)))

    def update_network_address(self, net_id: str, bridge: str, subnet: str, gateway: str) -> None:
        self.conn.execute("UPDATE networks SET bridge = ?, subnet = ?, gateway = ? WHERE id = ?",
                          (bridge, subnet, gateway, net_id))

    def delete_network(self, net_id: str) -> None:
        self.conn.execute("DELETE FROM networks WHERE id = ?", (net_id,))

    # -- endpoints ---------------------------------------------------------

    def _endpoints(self, where: str, args: tuple) -> list[Endpoint]:
        nets: dict[str, Network] = {}
        found = []
        for row in self.conn.execute(f"SELECT * FROM endpoints WHERE {where} ORDER BY created", args).fetchall():
            net = nets.get(row["network_id"])
            if net is None:
                net = nets[row["network_id"]] = self.network(row["network_id"])
            found.append(Endpoint(
                network=net, ip=row["ip"], prefixlen=net.prefixlen, gateway=net.gateway, mac=row["mac"],
                host_veth=row["host_veth"], ports=[PortMapping.from_dict(p) for p in jsonio.loads(row["ports"])],
                id=row["id"], container_id=row["container_id"], container_name=row["container_name"],
                aliases=jsonio.loads(row["aliases"]), hostname=row["hostname"], hosts_path=row["hosts_path"],
                extra_hosts=[tuple(e) for e in jsonio.loads(row["extra_hosts"])]))
        return found

    def endpoints_of_network(self, net_id: str) -> list[Endpoint]:
        return self._endpoints("network_id = ?", (net_id,))

    def endpoints_of_container(self, container_id: str) -> list[Endpoint]:
        return self._endpoints("container_id = ?", (container_id,))

    def endpoint_count(self, net_id: str) -> int:
        return self.conn.execute("SELECT count(*) FROM endpoints WHERE network_id = ?", (net_id,)).fetchone()[0]

    def used_ips(self, net_id: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT ip FROM endpoints WHERE network_id = ?", (net_id,))]

    def published_ports(self) -> list[tuple[PortMapping, str]]:
        """Every published port of every endpoint, with its container ID."""
        found = []
        for row in self.conn.execute("SELECT container_id, ports FROM endpoints WHERE ports != '[]'"):
            found.extend((PortMapping.from_dict(p), row[0]) for p in jsonio.loads(row[1]))
        return found

    def add_endpoint(self, ep: Endpoint, created: float) -> None:
        self.conn.execute(
            "INSERT INTO endpoints (id, network_id, container_id, container_name, hostname, aliases, ip, mac,"
            " host_veth, ports, extra_hosts, hosts_path, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (ep.id, ep.network.id, ep.container_id, ep.container_name, ep.hostname, jsonio.dumps(list(ep.aliases)),
             ep.ip, ep.mac, ep.host_veth, jsonio.dumps([p.to_dict() for p in ep.ports]),
             jsonio.dumps([list(e) for e in ep.extra_hosts]), ep.hosts_path, created))

    def delete_endpoint(self, endpoint_id: str) -> None:
        self.conn.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))
