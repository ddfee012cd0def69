"""Chain sets through iptables-legacy-restore against the real kernel:
2000 rules in one call, read back with iptables-legacy; a chain replaced
while another thread keeps reading it is only ever seen whole (old or
new); removal leaves nothing; a rule refused by iptables or by the kernel
leaves no chain behind, in its table or an earlier one; published ports go
in and out in one call each, in the container's own chains, and an older
minictr's inline port rules are cleaned up as well.

The chain-set tests use chains of their own (MINICTR-T<random>...) that no
built-in chain jumps to, so no packet ever meets their rules; the fixture
flushes and deletes every chain with that prefix afterwards, whatever
happened, and checks nat and filter show nothing of them."""
import threading
import time
import uuid

import pytest

from minictr.network import PortMapping, restore, rules
from minictr.network.errors import NetworkError
from minictr.network.rules import Chain, ChainSet, Spec
from minictr.network.xtables_probe import read_table

from test_network_helpers import legacy_rules, netenv, sh  # noqa: F401

pytestmark = pytest.mark.root
RULES = 2000


class OwnChains:
    def __init__(self):
        self.tag = uuid.uuid4().hex[:6]
        self.prefix = f"MINICTR-T{self.tag}"
        self.parent = self.prefix + "-P"      # stands for a shared chain: the jumps start here
        self.calls = []

    def dnat_chain(self, name: str, generation: str, count: int) -> Chain:
        return Chain("nat", name, tuple(
            Spec("nat", name, "DNAT", f"minictr test {self.tag} {generation} {i}", dst="127.0.0.1", proto="tcp",
                 matches=(("tcp", {"dport": str(10000 + i)}),), target_args={"to_destination": f"127.0.0.1:{i + 1}"})
            for i in range(count)))

    def jump(self, table: str, target: str) -> Spec:
        return Spec(table, self.parent, target, f"minictr test {self.tag} jump to {target}")

    def saved(self, table: str) -> list[str]:
        return [line for line in sh("iptables-legacy", "-t", table, "-S").stdout.splitlines() if self.prefix in line]

    def cleanup(self) -> None:
        for table in ("nat", "filter"):
            chains = [line.split()[1] for line in self.saved(table) if line.startswith("-N ")]
            for chain in chains:
                sh("iptables-legacy", "-w", "-t", table, "-F", chain, check=False)
            for chain in chains:
                sh("iptables-legacy", "-w", "-t", table, "-X", chain, check=False)


@pytest.fixture
def chains(monkeypatch):
    if not sh("sh", "-c", "command -v iptables-legacy-restore || true").stdout.strip():
        pytest.skip("iptables-legacy-restore not installed (apt install iptables)")
    env = OwnChains()
    spawn = restore._spawn

    def counted(argv, text):
        if "--noflush" in argv:
            env.calls.append(text)
        return spawn(argv, text)
    monkeypatch.setattr(restore, "_spawn", counted)
    try:
        restore.write(ChainSet((Chain("nat", env.parent), Chain("filter", env.parent))))
        env.calls.clear()
        yield env
    finally:
        env.cleanup()
    assert env.saved("nat") == [] and env.saved("filter") == []


def test_two_thousand_rules_in_one_call_read_back_and_removed(chains):
    name = chains.prefix + "-A"
    chain_set = ChainSet((chains.dnat_chain(name, "gen1", RULES),), (chains.jump("nat", name),))
    restore.write(chain_set)
    assert len(chains.calls) == 1
    listed = sh("iptables-legacy", "-t", "nat", "-S", name).stdout.splitlines()
    assert listed[0] == f"-N {name}" and len(listed) == RULES + 1
    for i, line in enumerate(listed[1:]):
        assert line == (f"-A {name} -d 127.0.0.1/32 -p tcp -m tcp --dport {10000 + i} -m comment --comment "
                        f"\"minictr test {chains.tag} gen1 {i}\" -j DNAT --to-destination 127.0.0.1:{i + 1}")
    assert sh("iptables-legacy", "-t", "nat", "-S", chains.parent).stdout.splitlines()[1:] == [
        f"-A {chains.parent} -m comment --comment \"minictr test {chains.tag} jump to {name}\" -j {name}"]
    restore.write(chain_set)  # again: the same rules, no second jump
    assert len(chains.calls) == 2 and len(read_table("nat")[chains.parent]) == 1
    assert len(read_table("nat")[name]) == RULES
    restore.remove(chain_set)
    assert len(chains.calls) == 3
    assert chains.saved("nat") == [f"-N {chains.parent}"]
    restore.remove(chain_set)  # nothing left to remove: no call at all
    assert len(chains.calls) == 3


def test_a_replaced_chain_is_only_ever_seen_whole(chains):
    """A reader in another thread, reading the table as fast as it can
    while the chain is flushed and refilled ten times, sees it either
    absent (before the first write), all old or all new: never a mix,
    never part of one."""
    name = chains.prefix + "-A"
    sets = {gen: ChainSet((chains.dnat_chain(name, gen, count),), (chains.jump("nat", name),))
            for gen, count in (("gen1", RULES), ("gen2", RULES - 500))}
    seen, done = [], threading.Event()

    def reader():
        deadline = time.monotonic() + 60
        while not done.is_set() and time.monotonic() < deadline:  # bounded either way
            rules_now = read_table("nat").get(name)
            seen.append(None if rules_now is None else tuple(tag for tag, _target in rules_now))
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for round_ in range(10):
            restore.write(sets["gen1" if round_ % 2 == 0 else "gen2"])
        time.sleep(0.05)
    finally:
        done.set()
        thread.join(timeout=90)
    assert len(chains.calls) == 10
    states = set()
    for tags in seen:
        if tags is None:
            states.add("absent")
            continue
        generations = {tag.split()[3] for tag in tags}
        assert len(generations) == 1, f"a mixed chain was seen: {generations}"
        generation = generations.pop()
        assert len(tags) == {"gen1": RULES, "gen2": RULES - 500}[generation], f"a partial {generation}: {len(tags)}"
        states.add(generation)
    assert {"gen1", "gen2"} <= states, (states, len(seen))
    assert len(read_table("nat")[chains.parent]) == 1  # the jump stayed, once
    restore.remove(sets["gen2"])
    assert chains.saved("nat") == [f"-N {chains.parent}"]


def test_a_rule_iptables_refuses_leaves_no_chain_in_any_table(chains):
    nat, filt = chains.prefix + "-N", chains.prefix + "-F"
    bad = Spec("filter", filt, "NOSUCHTARGET", f"minictr test {chains.tag} bad")
    chain_set = ChainSet((chains.dnat_chain(nat, "gen1", 10), Chain("filter", filt, (bad,))),
                         (chains.jump("nat", nat), chains.jump("filter", filt)))
    with pytest.raises(NetworkError) as err:
        restore.write(chain_set)
    assert str(err.value).startswith(f"iptables-legacy-restore: iptables -t filter -A {filt} -m comment --comment "
                                     f"\"minictr test {chains.tag} bad\" -j NOSUCHTARGET failed: ")
    assert "\n" not in str(err.value)
    assert len(chains.calls) == 2           # the write (nat went in), then the nat part taken out again
    assert chains.saved("nat") == [f"-N {chains.parent}"] and chains.saved("filter") == [f"-N {chains.parent}"]


def test_a_table_the_kernel_refuses_leaves_no_chain_in_any_table(chains):
    """MASQUERADE is a nat target: libiptc writes it into filter, the
    kernel refuses the table at its commit."""
    nat, filt = chains.prefix + "-N", chains.prefix + "-F"
    bad = Spec("filter", filt, "MASQUERADE", f"minictr test {chains.tag} masquerade in filter")
    chain_set = ChainSet((chains.dnat_chain(nat, "gen1", 10), Chain("filter", filt, (bad,))),
                         (chains.jump("nat", nat), chains.jump("filter", filt)))
    with pytest.raises(NetworkError, match="^iptables-legacy-restore: the filter table's commit failed"):
        restore.write(chain_set)
    assert chains.saved("nat") == [f"-N {chains.parent}"] and chains.saved("filter") == [f"-N {chains.parent}"]
    # the same in one table: nothing of it was ever committed
    with pytest.raises(NetworkError, match="the filter table's commit failed"):
        restore.write(ChainSet((Chain("filter", filt, (bad,)),), (chains.jump("filter", filt),)))
    assert chains.saved("filter") == [f"-N {chains.parent}"]


def test_hostile_input_writes_nothing(chains):
    name = chains.prefix + "-A"
    good = chains.dnat_chain(name, "gen1", 5)
    evil = Spec("nat", name, "ACCEPT", f"minictr test {chains.tag} evil\nCOMMIT\n*filter\n-I INPUT -j ACCEPT")
    with pytest.raises(NetworkError, match="refusing a rule"):
        restore.write(ChainSet((Chain("nat", name, good.rules + (evil,)),), (chains.jump("nat", name),)))
    assert chains.calls == [] and chains.saved("nat") == [f"-N {chains.parent}"]


def _restore_calls(monkeypatch) -> list:
    calls, spawn = [], restore._spawn

    def counted(argv, text):
        if "--noflush" in argv:
            calls.append(text)
        return spawn(argv, text)
    monkeypatch.setattr(restore, "_spawn", counted)
    return calls


def _port_chains(ep) -> list[str]:
    return [f"MINICTR-EP{kind}-{ep.id[:12]}" for kind in "DHF"]


def test_published_ports_go_in_and_out_in_one_restore_each(netenv, monkeypatch):
    net = netenv.nets.ensure_default()
    ns = netenv.netns()
    calls = _restore_calls(monkeypatch)
    ep = netenv.nets.connect(net, "a" * 64, "web", netenv.path(ns), "web",
                             publish=[PortMapping("127.0.0.1", 0, 80), PortMapping("", 0, 53, "udp")])
    assert len(calls) == 1
    dnat, hairpin, accept = _port_chains(ep)
    listed = sh("iptables-legacy", "-t", "nat", "-S", dnat).stdout
    for port in ep.ports:
        assert f"--dport {port.host_port} -m comment" in listed
        assert f"-j DNAT --to-destination {ep.ip}:{port.container_port}" in listed
    assert listed.count("-j DNAT") == 2
    assert sh("iptables-legacy", "-t", "nat", "-S", hairpin).stdout.count("-j MASQUERADE") == 2
    assert sh("iptables-legacy", "-t", "filter", "-S", accept).stdout.count("-j ACCEPT") == 2
    rules_now = legacy_rules()
    assert rules_now.count(f"-j {dnat}") == 2 and rules_now.count(f"-j {accept}") == 2
    netenv.nets.disconnect_all("a" * 64)
    assert len(calls) == 2
    assert f"ep={ep.id[:12]}" not in legacy_rules() and ep.id[:12] not in legacy_rules()


def test_ports_an_older_minictr_published_inline_are_removed(netenv):
    """Rules written straight into the shared chains (before the
    per-endpoint chains) are found by their tag and go too."""
    from minictr.network import iptables
    net = netenv.nets.ensure_default()
    ns = netenv.netns()
    ep = netenv.nets.connect(net, "b" * 64, "old", netenv.path(ns), "old", publish=[PortMapping("", 0, 80)])
    specs = rules.port_specs(ep.id, "old", net.bridge, ep.ip, "", ep.ports[0].host_port, 80, "tcp")
    restore.remove(rules.endpoint_chains(ep.id, specs))
    iptables.apply(add=specs)   # the old layout
    assert f"-A MINICTR-DNAT -p tcp -m tcp --dport {ep.ports[0].host_port} -m comment --comment " \
           f"\"minictr ep={ep.id[:12]}" in legacy_rules()
    netenv.nets.disconnect_all("b" * 64)
    assert f"ep={ep.id[:12]}" not in legacy_rules()


def test_a_jump_that_no_longer_reads_as_written_is_removed_by_its_tag(netenv):
    """A jump into the container's chain with the right tag and target but
    another match (say a later version changed port_specs): the removal
    by rule text fails, the tag-based one takes it, the chains still go."""
    net = netenv.nets.ensure_default()
    ns = netenv.netns()
    ep = netenv.nets.connect(net, "e" * 64, "drift", netenv.path(ns), "drift", publish=[PortMapping("", 0, 80)])
    jump = next(j for j in rules.endpoint_chains(ep.id, rules.port_specs(
        ep.id, "drift", net.bridge, ep.ip, "", ep.ports[0].host_port, 80, "tcp")).jumps if j.chain == "MINICTR-DNAT")
    argv = [w[1:-1] if w.startswith('"') else w for w in jump.words()]
    sh("iptables-legacy", "-w", "-t", "nat", "-D", "MINICTR-DNAT", *argv)
    sh("iptables-legacy", "-w", "-t", "nat", "-A", "MINICTR-DNAT", "-p", "tcp", "-m", "comment", "--comment",
       jump.tag, "-j", jump.target)
    netenv.nets.disconnect_all("e" * 64)
    assert ep.id[:12] not in legacy_rules()


def test_host_teardown_takes_the_port_chains_too(netenv):
    net = netenv.nets.ensure_default()
    ns = netenv.netns()
    ep = netenv.nets.connect(net, "c" * 64, "torn", netenv.path(ns), "torn", publish=[PortMapping("", 0, 80)])
    assert all(name in legacy_rules() for name in _port_chains(ep))
    netenv.nets.teardown_host_rules()
    rules_now = legacy_rules()
    assert ep.id[:12] not in rules_now and f"net={net.id[:12]}" not in rules_now


def test_the_in_process_table_reader_agrees_with_iptables_save(chains):
    """xtables_probe.read_table (what restore decides from) against
    iptables-legacy -S: comments and targets of every rule, in order, for
    jumps, gotos, verdicts, extensions and a rule with no target."""
    a, b = chains.prefix + "-A", chains.prefix + "-B"
    tag = f"minictr test {chains.tag}"
    chain_set = ChainSet((
        Chain("filter", a, (Spec("filter", a, b, tag + " to b", proto="tcp", matches=(("tcp", {"dport": "5"}),)),
                            Spec("filter", a, "RETURN", tag + " return", src="!10.9.0.0/16"),
                            Spec("filter", a, "REJECT", tag + " reject", in_="lo+"))),
        Chain("filter", b, (Spec("filter", b, "DROP", tag + " drop"), Spec("filter", b, "ACCEPT", tag + " accept"))),
    ), (chains.jump("filter", a),))
    restore.write(chain_set)
    sh("iptables-legacy", "-w", "-t", "filter", "-A", b, "-m", "comment", "--comment", tag + " no target")
    sh("iptables-legacy", "-w", "-t", "filter", "-A", b, "-g", a)
    got = read_table("filter")
    for name in (chains.parent, a, b):
        listed = sh("iptables-legacy", "-t", "filter", "-S", name).stdout.splitlines()[1:]
        want = []
        for line in listed:
            words = line.split()
            comment = line.split('--comment "')[1].split('"')[0] if "--comment" in line else ""
            target = next((words[i + 1] for i, w in enumerate(words) if w in ("-j", "-g")), "")
            want.append((comment, target))
        assert got[name] == want, name
    assert got[b] == [(tag + " drop", "DROP"), (tag + " accept", "ACCEPT"), (tag + " no target", ""), ("", a)]
    restore.remove(chain_set)   # b's goto into a goes with b's flush, before either is deleted
    assert chains.saved("filter") == [f"-N {chains.parent}"]


def test_publishing_never_loads_python_iptables(netenv):
    """A second process publishes and unpublishes a port on the ready
    network: restore and the in-process table reader, no iptc."""
    import subprocess
    import sys
    netenv.nets.ensure_default()
    ns = netenv.netns()
    script = (
        "import sys\n"
        "from minictr.state import db\n"
        "from minictr.network import Networks, NetworkConfig, PortMapping\n"
        f"nets = Networks({netenv.root!r}, db.connect({netenv.db_path!r}), "
        f"NetworkConfig.load(environ={netenv.environ!r}))\n"
        f"ep = nets.connect(nets.ensure_default(), {'d' * 64!r}, 'hot', {netenv.path(ns)!r}, 'hot', "
        "publish=[PortMapping('127.0.0.1', 0, 80)])\n"
        "print(ep.ports[0].host_port, 'iptc' in sys.modules, 'subprocess' in sys.modules)\n"
        f"nets.disconnect_all({'d' * 64!r})\n"
        "print('iptc' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    first, after = out.stdout.splitlines()
    port, iptc_loaded, subprocess_loaded = first.split()
    assert (iptc_loaded, subprocess_loaded, after) == ("False", "False", "False")
    assert f"--dport {port} " not in legacy_rules()
