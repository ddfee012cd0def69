"""Which iptables rules the bridge driver needs, as plain data (no iptc):
the chains and jumps every network shares, one network's rules, one
published port's rules. Each rule carries a comment tag naming what it
belongs to, so removal is exact and a cheap probe can tell whether a
network's rules are still in place (xtables_probe).

Layout (legacy tables):
  nat    PREROUTING/OUTPUT --dst-type LOCAL -> MINICTR-DNAT   published ports
  nat    POSTROUTING -> MINICTR-POSTROUTING                   masquerade out, 127.0.0.1 and hairpin
  filter FORWARD -> MINICTR-FORWARD -> MINICTR-ISOLATION-1 -> -2   accept ours, isolate bridges"""
from __future__ import annotations

CHAIN_DNAT = "MINICTR-DNAT"
CHAIN_POSTROUTING = "MINICTR-POSTROUTING"
CHAIN_FORWARD = "MINICTR-FORWARD"
CHAIN_ISOLATION_1 = "MINICTR-ISOLATION-1"
CHAIN_ISOLATION_2 = "MINICTR-ISOLATION-2"
CHAINS = {"nat": (CHAIN_DNAT, CHAIN_POSTROUTING),
          "filter": (CHAIN_FORWARD, CHAIN_ISOLATION_1, CHAIN_ISOLATION_2)}
BASE_PREFIX = "minictr base "


class Spec:
    """One rule: where it goes, what it matches, where it jumps, its tag."""
    __slots__ = ("table", "chain", "src", "dst", "in_", "out", "proto", "matches", "target", "target_args",
                 "tag", "insert")

    def __init__(self, table: str, chain: str, target: str, tag: str, *, src: str = "", dst: str = "",
                 in_: str = "", out: str = "", proto: str = "", matches=(), target_args=None,
                 insert: bool = False):
        self.table, self.chain, self.target, self.tag = table, chain, target, tag[:255]
        self.src, self.dst, self.in_, self.out, self.proto = src, dst, in_, out, proto
        self.matches = tuple(matches)        # (module name, {option: value}), iptc spelling
        self.target_args = dict(target_args or {})
        self.insert = insert

    def text(self) -> str:
        """The same rule in iptables-save syntax, for --explain and tests."""
        words = ["-t", self.table, "-I" if self.insert else "-A", self.chain]
        for flag, value in (("-s", self.src), ("-d", self.dst), ("-i", self.in_), ("-o", self.out)):
            if value:
                words += ["!", flag, value[1:]] if value.startswith("!") else [flag, value]
        if self.proto:
            words += ["-p", self.proto]
        for name, options in self.matches:
            words += ["-m", name]
            for key, value in options.items():
                words += [f"--{key.replace('_', '-')}", value]
        words += ["-m", "comment", "--comment", f'"{self.tag}"', "-j", self.target]
        for key, value in self.target_args.items():
            words += [f"--{key.replace('_', '-')}", value]
        return "iptables " + " ".join(words)

    def __repr__(self) -> str:
        return f"Spec({self.text()})"


def base_specs() -> list[Spec]:
    """The jumps into our chains (shared by every network of every root)."""
    local = (("addrtype", {"dst_type": "LOCAL"}),)
    return [
        Spec("nat", "PREROUTING", CHAIN_DNAT, BASE_PREFIX + "prerouting", matches=local, insert=True),
        Spec("nat", "OUTPUT", CHAIN_DNAT, BASE_PREFIX + "output", matches=local, insert=True),
        Spec("nat", "POSTROUTING", CHAIN_POSTROUTING, BASE_PREFIX + "postrouting", insert=True),
        Spec("filter", "FORWARD", CHAIN_FORWARD, BASE_PREFIX + "forward", insert=True),
        Spec("filter", CHAIN_FORWARD, CHAIN_ISOLATION_1, BASE_PREFIX + "isolation", insert=True),
    ]


def network_prefix(network_id: str) -> str:
    return f"minictr net={network_id[:12]} "


def network_specs(network_id: str, name: str, bridge: str, subnet: str, internal: bool) -> list[Spec]:
    """A network's rules: masquerade what leaves the host (not for internal
    networks), masquerade 127.0.0.1-sourced traffic DNAT'd into the bridge
    (route_localnet lets it leave lo's range), accept forwarding to and from
    the bridge, and keep other bridges out."""
    tag = network_prefix(network_id) + f"({name}) "
    specs = [
        Spec("nat", CHAIN_POSTROUTING, "MASQUERADE", tag + "localhost", src="127.0.0.0/8", out=bridge,
             matches=(("addrtype", {"src_type": "LOCAL"}),)),
        Spec("filter", CHAIN_FORWARD, "ACCEPT", tag + "established", out=bridge,
             matches=(("conntrack", {"ctstate": "RELATED,ESTABLISHED"}),)),
        Spec("filter", CHAIN_FORWARD, "ACCEPT", tag + "same bridge", in_=bridge, out=bridge),
        Spec("filter", CHAIN_ISOLATION_2, "DROP", tag + "isolation from others", out=bridge),
    ]
    if internal:
        specs += [
            Spec("filter", CHAIN_ISOLATION_1, "DROP", tag + "internal out", in_=bridge, out="!" + bridge),
            Spec("filter", CHAIN_ISOLATION_1, "DROP", tag + "internal in", in_="!" + bridge, out=bridge),
        ]
    else:
        specs += [
            Spec("nat", CHAIN_POSTROUTING, "MASQUERADE", tag + "masquerade", src=subnet, out="!" + bridge),
            Spec("filter", CHAIN_FORWARD, "ACCEPT", tag + "outbound", in_=bridge, out="!" + bridge),
            Spec("filter", CHAIN_ISOLATION_1, CHAIN_ISOLATION_2, tag + "isolation", in_=bridge,
                 out="!" + bridge),
        ]
    return specs


def endpoint_prefix(endpoint_id: str) -> str:
    return f"minictr ep={endpoint_id[:12]} "


def port_specs(endpoint_id: str, container_name: str, bridge: str, ip: str, host_ip: str, host_port: int,
               container_port: int, proto: str) -> list[Spec]:
    """A published port: DNAT host:port to the container (from PREROUTING
    for other hosts, from OUTPUT for the host itself), accept it through
    FORWARD, and masquerade the container reaching itself through it."""
    tag = endpoint_prefix(endpoint_id) + f"({container_name[:64]}) {host_ip or '0.0.0.0'}:{host_port}/{proto} "
    port = ((proto, {"dport": str(host_port)}),)
    cport = ((proto, {"dport": str(container_port)}),)
    dst = host_ip if host_ip and host_ip != "0.0.0.0" else ""
    return [
        Spec("nat", CHAIN_DNAT, "DNAT", tag + "dnat", dst=dst, proto=proto, matches=port,
             target_args={"to_destination": f"{ip}:{container_port}"}),
        Spec("filter", CHAIN_FORWARD, "ACCEPT", tag + "accept", dst=f"{ip}/32", in_="!" + bridge, out=bridge,
             proto=proto, matches=cport),
        Spec("nat", CHAIN_POSTROUTING, "MASQUERADE", tag + "hairpin", src=f"{ip}/32", dst=f"{ip}/32",
             proto=proto, matches=cport),
    ]
