"""IPAM arithmetic: subnets, gateways, next free address, free pools, MACs."""
import pytest

from minictr.errors import MinictrError
from minictr.network.errors import AddressPoolExhausted, NetworkConfigError
from minictr.network.ipam import (Subnet, int_to_ip, ip_to_int, mac_for_ip, parse_gateway, parse_subnet,
                                  pick_address, pick_subnet)


def test_parse_subnet_and_its_properties():
    s = parse_subnet("10.66.0.0/16")
    assert str(s) == "10.66.0.0/16" and int_to_ip(s.broadcast) == "10.66.255.255" and s.size == 65536
    assert ip_to_int("10.66.3.4") in s and ip_to_int("10.67.0.1") not in s
    assert s.overlaps(parse_subnet("10.66.5.0/24")) and parse_subnet("10.66.5.0/24").overlaps(s)
    assert not s.overlaps(parse_subnet("10.67.0.0/24"))


@pytest.mark.parametrize("text, message", [
    ("banana", "invalid subnet 'banana': expected CIDR notation like 10.66.0.0/16"),
    ("10.66.0.0", "invalid subnet '10.66.0.0': expected CIDR notation like 10.66.0.0/16"),
    ("10.66.0.256/24", "invalid subnet '10.66.0.256/24': '10.66.0.256' is not an IPv4 address"),
    ("10.66.0.0/33", "invalid subnet '10.66.0.0/33': prefix length must be 0 to 32"),
    ("10.66.0.1/16", "invalid subnet 10.66.0.1/16: it should be 10.66.0.0/16"),
    ("10.66.0.0/31", "invalid subnet 10.66.0.0/31: too small for a gateway and containers (at most /30)"),
])
def test_bad_subnets_are_one_line_errors(text, message):
    with pytest.raises(NetworkConfigError) as err:
        parse_subnet(text)
    assert str(err.value) == message and isinstance(err.value, MinictrError)


def test_gateway_defaults_to_first_host_and_must_be_inside():
    s = parse_subnet("10.66.0.0/16")
    assert parse_gateway(None, s) == "10.66.0.1" and parse_gateway("10.66.9.9", s) == "10.66.9.9"
    for bad, why in [("10.67.0.1", "not in subnet 10.66.0.0/16"), ("10.66.0.0", "the network or broadcast"),
                     ("10.66.255.255", "the network or broadcast"), ("nope", "not an IPv4 address")]:
        with pytest.raises(NetworkConfigError, match=why):
            parse_gateway(bad, s)


def test_pick_address_skips_network_gateway_used_and_broadcast():
    s = parse_subnet("10.0.0.0/29")  # .1-.6 usable
    assert int_to_ip(pick_address(s, "10.0.0.1", set())) == "10.0.0.2"
    assert int_to_ip(pick_address(s, "10.0.0.3", {ip_to_int("10.0.0.1")})) == "10.0.0.2"
    used = {ip_to_int(f"10.0.0.{i}") for i in (2, 3, 4, 5, 6)}
    with pytest.raises(AddressPoolExhausted, match="no available IPv4 addresses on network with subnet 10.0.0.0/29"):
        pick_address(s, "10.0.0.1", used)


def test_pick_subnet_steps_over_taken_ones():
    pools = [(parse_subnet("10.67.0.0/16"), 24)]
    assert str(pick_subnet(pools, [])) == "10.67.0.0/24"
    taken = [parse_subnet("10.67.0.0/24"), parse_subnet("10.67.1.128/25")]
    assert str(pick_subnet(pools, taken)) == "10.67.2.0/24"
    with pytest.raises(AddressPoolExhausted):
        pick_subnet([(parse_subnet("10.67.0.0/24"), 24)], [parse_subnet("10.0.0.0/8")])


def test_mac_is_derived_from_the_address_as_docker_does():
    assert mac_for_ip(ip_to_int("172.17.0.2")) == "02:42:ac:11:00:02"


def test_subnet_equality():
    assert Subnet(1, 8) == Subnet(1, 8) and len({Subnet(1, 8), Subnet(1, 8)}) == 1
