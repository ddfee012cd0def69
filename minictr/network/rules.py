"""Which iptables rules the bridge driver needs, as plain data (no iptc):
the chains and jumps every network shares, one network's rules, one
published port's rules. Each rule carries a comment tag naming what it
belongs to, so removal is exact and a cheap probe can tell whether a
network's rules are still in place (xtables_probe).

Layout (legacy tables):
  nat    PREROUTING/OUTPUT --dst-type LOCAL -> MINICTR-DNAT   published ports
  nat    POSTROUTING -> MINICTR-POSTROUTING                   masquerade out, 127.0.0.1 and hairpin
  filter FORWARD -> MINICTR-FORWARD -> MINICTR-ISOLATION-1 -> -2   accept ours, isolate bridges

A container's published ports live in chains of their own, one per shared
chain they hang from (endpoint_chains): MINICTR-EPD-<endpoint> (nat, the
DNATs), MINICTR-EPH-<endpoint> (nat, the hairpin masquerades) and
MINICTR-EPF-<endpoint> (filter, the forward accepts), each entered from
MINICTR-DNAT, -POSTROUTING and -FORWARD by one jump per rule carrying that
rule's match and tag. They are written and removed whole, in one
iptables-restore transaction each (network/restore.py)."""
from __future__ import annotations

from minictr.records import dataclass

CHAIN_DNAT = "MINICTR-DNAT"
CHAIN_POSTROUTING = "MINICTR-POSTROUTING"
CHAIN_FORWARD = "MINICTR-FORWARD"
CHAIN_ISOLATION_1 = "MINICTR-ISOLATION-1"
CHAIN_ISOLATION_2 = "MINICTR-ISOLATION-2"
CHAINS = {"nat": (CHAIN_DNAT, CHAIN_POSTROUTING),
          "filter": (CHAIN_FORWARD, CHAIN_ISOLATION_1, CHAIN_ISOLATION_2)}
BASE_PREFIX = "minictr base "
# an endpoint's own chains, by the shared chain they are entered from (+ 12 hex of its ID: 24 of 28 characters)
ENDPOINT_CHAINS = {("nat", CHAIN_DNAT): "MINICTR-EPD-", ("nat", CHAIN_POSTROUTING): "MINICTR-EPH-",
                   ("filter", CHAIN_FORWARD): "MINICTR-EPF-"}


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

    def text(self, verb: str = "") -> str:
        """The same rule in iptables-save syntax, for --explain and tests
        (`verb` -D: the command that deletes it)."""
        words = ["-t", self.table, verb or ("-I" if self.insert else "-A"), self.chain] + self.words()
        return "iptables " + " ".join(words)

    def words(self) -> list[str]:
        """What follows `-A CHAIN`: the matches, the comment, the target."""
        words = []
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
        return words

    def moved(self, chain: str | None = None, target: str | None = None) -> "Spec":
        """The same rule in another chain, or jumping elsewhere (a jump
        keeps the match and the tag, and has no target options)."""
        return Spec(self.table, chain or self.chain, target or self.target, self.tag, src=self.src, dst=self.dst,
                    in_=self.in_, out=self.out, proto=self.proto, matches=self.matches,
                    target_args=None if target else self.target_args, insert=self.insert)

    def __repr__(self) -> str:
        return f"Spec({self.text()})"


@dataclass(frozen=True)
class Chain:
    """One chain of ours, whole: writing it flushes and refills it."""
    table: str
    name: str
    rules: tuple = ()      # Spec records, each with this table and chain


@dataclass(frozen=True)
class ChainSet:
    """Chains written and removed together, and the jumps into them from
    chains outside the set (shared or built-in), each known by its tag."""
    chains: tuple = ()     # Chain records
    jumps: tuple = ()      # Spec records

    def __add__(self, other: "ChainSet") -> "ChainSet":
        return ChainSet(self.chains + other.chains, self.jumps + other.jumps)


def why(spec: Spec) -> str:
    """What a rule is for, as --explain says it."""
    if spec.tag.startswith(BASE_PREFIX):
        return "send the host's traffic through minictr's chains"
    if spec.target.startswith(tuple(ENDPOINT_CHAINS.values())):
        return "this port's packets go into the container's own chain"
    return {"DNAT": "publish a container port on the host", "MASQUERADE": "rewrite the source address",
            "ACCEPT": "let the bridge's traffic be forwarded", "DROP": "keep networks apart"}.get(
                spec.target, "isolate networks")


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



def endpoint_chains(endpoint_id: str, specs: list[Spec]) -> ChainSet:
    """An endpoint's port rules (port_specs) in chains of its own: each
    rule moves into the endpoint's chain for the shared chain it was
    meant for, and the shared chain gets a jump with the rule's match and
    tag, in the same order; so what a packet meets, and where it ends, is
    what the rules alone in the shared chains gave."""
    rules: dict[tuple[str, str], list[Spec]] = {}
    jumps = []
    for spec in specs:
        name = ENDPOINT_CHAINS[(spec.table, spec.chain)] + endpoint_id[:12]
        rules.setdefault((spec.table, name), []).append(spec.moved(chain=name))
        jumps.append(spec.moved(target=name))
    return ChainSet(tuple(Chain(table, name, tuple(chain_rules)) for (table, name), chain_rules in rules.items()),
                    tuple(jumps))
