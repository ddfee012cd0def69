"""Port clashes, and the iptables rules planned for a port."""
import socket

import pytest

from minictr.network.errors import PortAllocated
from minictr.network.ports import check_free, resolve
from minictr.network.records import PortMapping
from minictr.network.rules import base_specs, network_specs, port_specs


def test_clashes():
    a = PortMapping("", 8080, 80)
    assert a.clashes(PortMapping("127.0.0.1", 8080, 81))
    assert not a.clashes(PortMapping("", 8080, 80, "udp")) and not a.clashes(PortMapping("", 8081, 80))
    assert not PortMapping("127.0.0.1", 8080, 80).clashes(PortMapping("127.0.0.2", 8080, 80))


def test_resolve_against_database_and_host_sockets():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with pytest.raises(PortAllocated, match=f"^Bind for 0.0.0.0:{port} failed: port is already allocated$"):
            check_free(PortMapping("", port, 80))
    with pytest.raises(PortAllocated, match="^Bind for 0.0.0.0:1234 failed: port is already allocated$"):
        resolve([PortMapping("", 1234, 80)], [PortMapping("127.0.0.1", 1234, 90)])
    got = resolve([PortMapping("127.0.0.1", 0, 80), PortMapping("127.0.0.1", 0, 81)], [])
    assert all(p.host_port > 0 for p in got) and got[0].host_port != got[1].host_port


def test_rule_plans_read_like_iptables():
    texts = [s.text() for s in port_specs("e" * 64, "web", "minictr0", "10.66.0.2", "", 8080, 80, "tcp")]
    assert texts[0] == ('iptables -t nat -A MINICTR-DNAT -p tcp -m tcp --dport 8080 -m comment --comment '
                        '"minictr ep=eeeeeeeeeeee (web) 0.0.0.0:8080/tcp dnat" -j DNAT --to-destination 10.66.0.2:80')
    assert "! -i minictr0 -o minictr0" in texts[1] and "-j MASQUERADE" in texts[2]
    specs = network_specs("n" * 64, "bridge", "minictr0", "10.66.0.0/16", internal=False)
    assert any("-s 10.66.0.0/16 ! -o minictr0" in s.text() and s.target == "MASQUERADE" for s in specs)
    internal = network_specs("n" * 64, "x", "mc-x", "10.67.0.0/24", internal=True)
    assert not any(s.target == "MASQUERADE" and s.src == "10.67.0.0/24" for s in internal)
    for plan in (base_specs(), specs, internal):  # each tag names one rule: the probe and removal rely on it
        assert len({s.tag for s in plan}) == len(plan)
