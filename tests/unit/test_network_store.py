"""Networks and endpoints in the database: lookups by name, ID and prefix,
docker's not-found and ambiguity wording, ports and addresses in use."""
import pytest

from minictr.network.errors import NetworkError, NetworkNotFound
from minictr.network.records import Endpoint, Network, PortMapping
from minictr.network.store import Store
from minictr.state import db


@pytest.fixture
def store(tmp_path):
    conn = db.connect(str(tmp_path / "minictr.db"))
    yield Store(conn)
    conn.close()


def net(net_id, name, subnet="10.67.0.0/24", **kw):
    return Network(id=net_id, name=name, bridge=f"mc-{net_id[:12]}", subnet=subnet, gateway=subnet[:-4] + "1",
                   created="2024-01-01T00:00:00.000000000Z", **kw)


def test_lookup_by_id_name_and_prefix(store):
    store.add_network(net("ab" * 32, "one", labels={"k": "v"}))
    store.add_network(net("ac" * 32, "two", subnet="10.67.1.0/24", internal=True))
    assert store.network("ab" * 32).name == "one" and store.network("two").internal is True
    assert store.network("aba").name == "one" and store.network("one").labels == {"k": "v"}
    with pytest.raises(NetworkError, match=r"^network a is ambiguous \(2 matches found based on ID prefix\)$"):
        store.network("a")
    with pytest.raises(NetworkNotFound, match="^network zzz not found$"):
        store.network("zzz")
    assert [n.name for n in store.networks()] == ["one", "two"]


def test_endpoints_round_trip(store):
    n = net("ab" * 32, "one")
    store.add_network(n)
    ep = Endpoint(network=n, ip="10.67.0.2", prefixlen=24, gateway=n.gateway, mac="02:42:0a:43:00:02",
                  host_veth="vmc0123456789", ports=[PortMapping("", 8080, 80)], id="e" * 64,
                  container_id="c" * 64, container_name="web", aliases=["www"], hostname="web",
                  hosts_path="/x/hosts", extra_hosts=[("db", "1.2.3.4")])
    store.add_endpoint(ep, 1.0)
    got = store.endpoints_of_container("c" * 64)[0]
    assert got == ep
    assert store.used_ips(n.id) == ["10.67.0.2"] and store.endpoint_count(n.id) == 1
    assert store.published_ports() == [(PortMapping("", 8080, 80), "c" * 64)]
    with pytest.raises(Exception):  # the same address twice on one network
        store.add_endpoint(Endpoint(network=n, ip="10.67.0.2", prefixlen=24, gateway=n.gateway, mac="m",
                                    host_veth="v", id="f" * 64, container_id="d" * 64), 2.0)
