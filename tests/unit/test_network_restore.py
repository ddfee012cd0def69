"""Chain sets as iptables-restore input (network/restore.py), without the
kernel: what is rendered for a write and a removal, the endpoint layout
keeping each port rule exactly as it was, hostile fields refused before
anything runs, the restore binary's complaints turned into one line naming
the rule, the binary picked, and a failed later table undoing the earlier."""
import os
import stat

import pytest

from minictr.network import restore, rules
from minictr.network.errors import NetworkError
from minictr.network.rules import Chain, ChainSet, Spec

EP = "e" * 64
SHARED = {"nat": {"MINICTR-DNAT": [], "MINICTR-POSTROUTING": []}, "filter": {"MINICTR-FORWARD": []}}


def port_set() -> ChainSet:
    specs = rules.port_specs(EP, "web", "minictr0", "10.66.0.2", "127.0.0.1", 8080, 80, "tcp")
    return rules.endpoint_chains(EP, specs)


@pytest.fixture
def no_spawn(monkeypatch):
    """Fail the test if anything would start a process."""
    def spawn(argv, text):
        raise AssertionError(f"{argv} was started with {text!r}")
    monkeypatch.setattr(restore, "_spawn", spawn)
    monkeypatch.setattr(restore, "read", lambda chain_set: pytest.fail("the tables were read"))


def test_endpoint_chains_keep_every_port_rule_as_it_was():
    specs = rules.port_specs(EP, "web", "minictr0", "10.66.0.2", "", 8080, 80, "tcp")
    chain_set = rules.endpoint_chains(EP, specs)
    inner = [spec for chain in chain_set.chains for spec in chain.rules]
    assert [(c.table, c.name) for c in chain_set.chains] == [
        ("nat", "MINICTR-EPD-eeeeeeeeeeee"), ("filter", "MINICTR-EPF-eeeeeeeeeeee"),
        ("nat", "MINICTR-EPH-eeeeeeeeeeee")]
    by_tag = {spec.tag: spec for spec in inner}
    for spec, jump in zip(specs, chain_set.jumps):
        moved = by_tag[spec.tag]
        assert moved.words() == spec.words() and moved.table == spec.table   # same match, same target
        assert (jump.table, jump.chain, jump.tag) == (spec.table, spec.chain, spec.tag)
        assert jump.words()[:-2] == spec.words()[:spec.words().index("-j")]  # same match, into the chain
        assert jump.words()[-2:] == ["-j", moved.chain]
    restore.check(chain_set)


def test_write_renders_each_table_once_chains_then_rules_then_jumps():
    script = restore.render_write(port_set(), SHARED)
    tag = '"minictr ep=eeeeeeeeeeee (web) 127.0.0.1:8080/tcp'
    assert script.lines == [
        "*nat",
        ":MINICTR-EPD-eeeeeeeeeeee - [0:0]",
        ":MINICTR-EPH-eeeeeeeeeeee - [0:0]",
        f"-A MINICTR-EPD-eeeeeeeeeeee -d 127.0.0.1 -p tcp -m tcp --dport 8080 -m comment --comment {tag} dnat\" "
        "-j DNAT --to-destination 10.66.0.2:80",
        f"-A MINICTR-EPH-eeeeeeeeeeee -s 10.66.0.2/32 -d 10.66.0.2/32 -p tcp -m tcp --dport 80 -m comment "
        f"--comment {tag} hairpin\" -j MASQUERADE",
        f"-A MINICTR-DNAT -d 127.0.0.1 -p tcp -m tcp --dport 8080 -m comment --comment {tag} dnat\" "
        "-j MINICTR-EPD-eeeeeeeeeeee",
        f"-A MINICTR-POSTROUTING -s 10.66.0.2/32 -d 10.66.0.2/32 -p tcp -m tcp --dport 80 -m comment "
        f"--comment {tag} hairpin\" -j MINICTR-EPH-eeeeeeeeeeee",
        "COMMIT",
        "*filter",
        ":MINICTR-EPF-eeeeeeeeeeee - [0:0]",
        f"-A MINICTR-EPF-eeeeeeeeeeee -d 10.66.0.2/32 ! -i minictr0 -o minictr0 -p tcp -m tcp --dport 80 "
        f"-m comment --comment {tag} accept\" -j ACCEPT",
        f"-A MINICTR-FORWARD -d 10.66.0.2/32 ! -i minictr0 -o minictr0 -p tcp -m tcp --dport 80 "
        f"-m comment --comment {tag} accept\" -j MINICTR-EPF-eeeeeeeeeeee",
        "COMMIT",
    ]
    assert script.tables == ["nat", "filter"] and script.changes == 9
    assert script.says[1] == ("iptables -t nat -N MINICTR-EPD-eeeeeeeeeeee", "a chain of its own for these rules")
    assert script.says[5][0].startswith("iptables -t nat -A MINICTR-DNAT -d 127.0.0.1 -p tcp -m tcp --dport 8080")


def test_rewrite_flushes_the_chains_and_adds_no_second_jump():
    chain_set = port_set()
    seen = {"nat": {"MINICTR-DNAT": [(j.tag, j.target) for j in chain_set.jumps if j.table == "nat"],
                    "MINICTR-POSTROUTING": [], "MINICTR-EPD-eeeeeeeeeeee": [], "MINICTR-EPH-eeeeeeeeeeee": []},
            "filter": {"MINICTR-FORWARD": []}}
    script = restore.render_write(chain_set, seen)
    assert script.says[1][0] == "iptables -t nat -F MINICTR-EPD-eeeeeeeeeeee"
    assert not [line for line in script.lines if line.startswith("-A MINICTR-DNAT")]
    assert [line for line in script.lines if line.startswith("-A MINICTR-POSTROUTING")]  # not there yet
    assert [line for line in script.lines if line.startswith("-A MINICTR-FORWARD")]


def test_a_jump_into_a_missing_shared_chain_is_refused():
    with pytest.raises(NetworkError, match="the filter table has no chain MINICTR-FORWARD"):
        restore.render_write(port_set(), {"nat": SHARED["nat"], "filter": {}})


def test_remove_takes_out_only_what_is_there_and_as_often_as_it_is():
    chain_set = port_set()
    dnat = next(j for j in chain_set.jumps if j.chain == "MINICTR-DNAT")
    seen = {"nat": {"MINICTR-DNAT": [(dnat.tag, dnat.target), ("other", "X"), (dnat.tag, dnat.target)],
                    "MINICTR-EPD-eeeeeeeeeeee": [(dnat.tag, "DNAT")]},
            "filter": {"MINICTR-FORWARD": []}}
    script = restore.render_remove(chain_set, seen)
    assert script.lines == ["*nat", "-D " + " ".join([dnat.chain] + dnat.words()),
                            "-D " + " ".join([dnat.chain] + dnat.words()),
                            "-F MINICTR-EPD-eeeeeeeeeeee", "-X MINICTR-EPD-eeeeeeeeeeee", "COMMIT"]
    assert script.says[1][0].startswith("iptables -t nat -D MINICTR-DNAT ")


def test_nothing_there_means_no_process(monkeypatch):
    calls = []
    monkeypatch.setattr(restore, "_spawn", lambda argv, text: calls.append(argv) or (0, ""))
    monkeypatch.setattr(restore, "read", lambda chain_set: {"nat": {}, "filter": {}})
    restore.remove(port_set())
    assert calls == []


def _spec(**fields) -> Spec:
    base = dict(table="nat", chain="MINICTR-TEST", target="DNAT", tag="minictr test rule", proto="tcp",
                matches=(("tcp", {"dport": "80"}),), target_args={"to_destination": "10.0.0.2:80"})
    base.update(fields)
    return Spec(base.pop("table"), base.pop("chain"), base.pop("target"), base.pop("tag"), **base)


HOSTILE = [
    ("tag", dict(tag="minictr x\n-A INPUT -j ACCEPT")),
    ("tag", dict(tag='minictr x" -j ACCEPT "')),
    ("tag", dict(tag="minictr 'x'")),
    ("tag", dict(tag="minictr x\\")),
    ("tag", dict(tag="--comment")),
    ("tag", dict(tag="minictr \x00")),
    ("tag", dict(tag="minictr é")),
    ("source", dict(src="10.0.0.1 -j ACCEPT")),
    ("source", dict(src="-j")),
    ("destination", dict(dst="300.1.1.1")),
    ("destination", dict(dst="10.0.0.0/33")),
    ("destination", dict(dst="!!10.0.0.1")),
    ("in-interface", dict(in_="-i")),
    ("out-interface", dict(out="eth0\nCOMMIT")),
    ("out-interface", dict(out="a" * 16)),
    ("protocol", dict(proto="tcp -j ACCEPT")),
    ("protocol", dict(proto="--tcp")),
    ("match", dict(matches=(("tcp -j ACCEPT", {"dport": "80"}),))),
    ("match", dict(matches=(("comment", {"comment": "x"}),))),
    ("option of match tcp", dict(matches=(("tcp", {"dport --to-ports": "80"}),))),
    ("option of match tcp --dport", dict(matches=(("tcp", {"dport": "80 -j ACCEPT"}),))),
    ("option of match tcp --dport", dict(matches=(("tcp", {"dport": "-1"}),))),
    ("option of match tcp --dport", dict(matches=(("tcp", {"dport": "80\n"}),))),
    ("option of match tcp --dport", dict(matches=(("tcp", {"dport": '"80"'}),))),
    ("option of target DNAT --to-destination", dict(target_args={"to_destination": "--help"})),
    ("option of target DNAT --to-destination", dict(target_args={"to_destination": 80})),
    ("target", dict(target="ACCEPT\n-A INPUT")),
    ("target", dict(target="-j")),
    ("chain", dict(chain="MINICTR-TEST\nCOMMIT")),
    ("chain", dict(chain="-A")),
    ("table", dict(table="nat\n*filter")),
    ("table", dict(table="security")),
]


@pytest.mark.parametrize("field,fields", HOSTILE, ids=[f"{f}-{i}" for i, (f, _) in enumerate(HOSTILE)])
def test_hostile_fields_are_refused_before_anything_is_read_or_run(no_spawn, field, fields):
    spec = _spec(**fields)
    chain_set = ChainSet((Chain(spec.table, spec.chain, (spec,)),))
    with pytest.raises(NetworkError) as err:
        restore.write(chain_set)
    message = str(err.value)
    assert field in message and "\n" not in message, message
    with pytest.raises(NetworkError):
        restore.remove(chain_set)


def test_a_hostile_jump_is_refused_too(no_spawn):
    inner = _spec()
    jump = _spec(chain="MINICTR-DNAT", target="MINICTR-TEST", target_args=None, tag="minictr jump\nCOMMIT")
    with pytest.raises(NetworkError, match="tag"):
        restore.write(ChainSet((Chain("nat", "MINICTR-TEST", (inner,)),), (jump,)))


@pytest.mark.parametrize("chain_set,text", [
    (ChainSet((Chain("nat", "POSTROUTING", ()),)), "not one of minictr's"),
    (ChainSet((Chain("filter", "DOCKER-USER", ()),)), "not one of minictr's"),
    (ChainSet((Chain("nat", "MINICTR-" + "X" * 21, ()),)), "longer than 28"),
    (ChainSet((Chain("nat", "MINICTR-A", ()), Chain("nat", "MINICTR-A", ()))), "in the set twice"),
    (ChainSet((Chain("nat", "MINICTR-A", (_spec(),)),)), "is listed under"),
    (ChainSet((Chain("nat", "MINICTR-A", ()),), (_spec(chain="MINICTR-DNAT", target="MINICTR-B"),)),
     "does not lead into a chain of the set"),
    (ChainSet((Chain("nat", "MINICTR-A", ()),), (_spec(chain="MINICTR-A", target="MINICTR-A"),)),
     "starts inside the set"),
    (ChainSet((Chain("nat", "MINICTR-A", ()),), (_spec(chain="MINICTR-DNAT", target="MINICTR-A"),) * 2),
     "a jump is known by its tag"),
])
def test_sets_that_are_not_ours_or_not_whole_are_refused(no_spawn, chain_set, text):
    with pytest.raises(NetworkError, match=text):
        restore.write(chain_set)


def test_restore_complaints_name_the_rule(monkeypatch):
    chain_set = port_set()
    script = restore.render_write(chain_set, SHARED)
    jump = script.lines.index(next(line for line in script.lines if line.startswith("-A MINICTR-FORWARD")))
    out = f"iptables-restore: line {jump + 1} failed\n"
    error = restore._failure(script, "/usr/sbin/iptables-legacy-restore", 1, out)
    assert str(error) == f"iptables-legacy-restore: {script.says[jump][0]} failed: refused (is the chain there?)"
    assert error.line == jump and "-j MINICTR-EPF-eeeeeeeeeeee" in str(error)
    out = ('iptables-restore v1.8.9 (legacy): unknown option "--bogus"\nError occurred at line: 4\n'
           "Try `iptables-restore -h' or 'iptables-restore --help' for more information.\n")
    error = restore._failure(script, "/usr/sbin/iptables-legacy-restore", 2, out)
    assert str(error) == f'iptables-legacy-restore: {script.says[3][0]} failed: unknown option "--bogus"'
    removal = restore.render_remove(chain_set, {"nat": {"MINICTR-DNAT": [(j.tag, j.target) for j in chain_set.jumps]}})
    error = restore._failure(removal, "iptables-legacy-restore", 1, "iptables-restore: line 2 failed\n")
    assert str(error).endswith("-j MINICTR-EPD-eeeeeeeeeeee failed: no rule in the chain reads like that (any more)")
    commit = len(script.lines) - 1
    error = restore._failure(script, "iptables-restore", 1, f"iptables-restore: line {commit + 1} failed\n")
    assert str(error).startswith("iptables-restore: the filter table's commit failed: the kernel refused")
    error = restore._failure(script, "iptables-restore", 4, "Another app is currently holding the xtables lock. "
                                                            "Stopped waiting after 30s.\n")
    assert error.line == -1 and "holding the xtables lock" in str(error)


def _fake(tmp_path, name: str, version: str) -> None:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho 'iptables-restore v1.8.9 ({version})'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("files,wanted", [
    ([("iptables-legacy-restore", "legacy"), ("iptables-restore", "nf_tables")], "iptables-legacy-restore"),
    ([("iptables-restore", "legacy")], "iptables-restore"),
    ([("iptables-restore", "nf_tables")], None),
    ([], None),
])
def test_the_legacy_restore_binary_is_picked(tmp_path, monkeypatch, files, wanted):
    for name, version in files:
        _fake(tmp_path, name, version)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(restore, "SEARCH_DIRS", ())
    monkeypatch.setattr(restore, "_binary", None)
    if wanted:
        assert restore.restore_binary() == os.path.join(tmp_path, wanted)
    else:
        with pytest.raises(NetworkError, match="no legacy iptables-restore on this host"):
            restore.restore_binary()


def test_a_failed_later_table_undoes_what_the_earlier_one_made(monkeypatch):
    """nat commits, filter fails: the nat chains and jumps this call made
    are taken out again in a second call, and the error names the rule."""
    chain_set = port_set()
    after_nat = {"nat": {"MINICTR-DNAT": [(j.tag, j.target) for j in chain_set.jumps if j.table == "nat"],
                         "MINICTR-POSTROUTING": [(j.tag, j.target) for j in chain_set.jumps
                                                 if j.chain == "MINICTR-POSTROUTING"],
                         "MINICTR-EPD-eeeeeeeeeeee": [("x", "DNAT")], "MINICTR-EPH-eeeeeeeeeeee": []},
                 "filter": SHARED["filter"]}
    reads = iter([SHARED, after_nat])
    monkeypatch.setattr(restore, "read", lambda cs: next(reads))
    monkeypatch.setattr(restore, "_binary", "/usr/sbin/iptables-legacy-restore")
    inputs = []

    def spawn(argv, text):
        inputs.append(text)
        if len(inputs) == 1:
            failing = text.splitlines().index(next(l for l in text.splitlines() if l.startswith("-A MINICTR-EPF")))
            return 1, f"iptables-restore: line {failing + 1} failed\n"
        return 0, ""
    monkeypatch.setattr(restore, "_spawn", spawn)
    with pytest.raises(NetworkError, match=r"iptables -t filter -A MINICTR-EPF-eeeeeeeeeeee .* failed"):
        restore.write(chain_set)
    undo = inputs[1].splitlines()
    assert undo[0] == "*nat" and undo[-1] == "COMMIT" and "*filter" not in undo
    assert [line.split()[:2] for line in undo if line.startswith(("-D", "-X"))] == [
        ["-D", "MINICTR-DNAT"], ["-D", "MINICTR-POSTROUTING"],
        ["-X", "MINICTR-EPD-eeeeeeeeeeee"], ["-X", "MINICTR-EPH-eeeeeeeeeeee"]]
