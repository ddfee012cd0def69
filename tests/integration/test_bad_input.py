"""Acceptance: a bad config.json gives one clear message naming the field,
a non-zero exit, and nothing left behind (no state dir, mount, cgroup)."""
import os

import pytest

from support.bundles import make_bundle, runc_default_spec
from support.runtimes import cli, leftovers

pytestmark = pytest.mark.root


def _spec():
    spec = runc_default_spec()
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    return spec


def _bad(spec_change):
    spec = _spec()
    spec_change(spec)
    return spec


CASES = {
    "wrong type": (lambda s: s["process"].__setitem__("args", "true"), "process.args", "must be an array"),
    "unknown namespace": (lambda s: s["linux"]["namespaces"].append({"type": "bogus"}),
                          "linux.namespaces[5].type", "unknown namespace type"),
    "bad mount": (lambda s: s["mounts"].append({"destination": "/x", "source": "/nonexistent-minictr-src",
                                                "options": ["bind"]}), "mounts[7].source", "does not exist"),
    "mount without type": (lambda s: s["mounts"].append({"destination": "/x", "source": "foo"}),
                           "mounts[7].type", "is required"),
    "relative hook": (lambda s: s.setdefault("hooks", {}).__setitem__("prestart", [{"path": "rel/hook"}]),
                      "hooks.prestart[0].path", "absolute"),
    "bad rlimit": (lambda s: s["process"]["rlimits"].append({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}),
                   "process.rlimits[1].type", "unknown rlimit"),
    "hostname without uts": (lambda s: s["linux"].__setitem__(
        "namespaces", [n for n in s["linux"]["namespaces"] if n["type"] != "uts"]), "hostname", "uts"),
    "negative memory": (lambda s: s["linux"]["resources"].__setitem__("memory", {"limit": -5}),
                        "linux.resources.memory", ""),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_config_names_the_field(case, tmp_path, busybox_rootfs):
    change, field, words = CASES[case]
    bundle = make_bundle(tmp_path / "b", _bad(change), rootfs_src=busybox_rootfs)
    state = tmp_path / "state"
    res = cli("minictr", state, "create", "--bundle", str(bundle), "badcfg")
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert field in lines[0] and words in lines[0], lines[0]
    assert not (state / "badcfg").exists()
    assert not leftovers("badcfg")


def test_missing_rootfs(tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    import json
    (bundle / "config.json").write_text(json.dumps(_spec()))
    res = cli("minictr", tmp_path / "state", "create", "--bundle", str(bundle), "norootfs")
    assert res.returncode != 0
    assert "root.path" in res.stderr and "does not exist" in res.stderr
    assert not (tmp_path / "state" / "norootfs").exists()


def test_not_json(tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    (bundle / "config.json").write_text('{"ociVersion": "1.0.2", "root": ')
    res = cli("minictr", tmp_path / "state", "create", "--bundle", str(bundle), "notjson")
    assert res.returncode != 0
    assert "config.json" in res.stderr and "invalid JSON at line 1" in res.stderr


def test_missing_program_fails_at_create(tmp_path, busybox_rootfs):
    spec = _spec()
    spec["process"]["args"] = ["/no/such/program"]
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    res = cli("minictr", tmp_path / "state", "create", "--bundle", str(bundle), "noprog")
    assert res.returncode != 0
    assert "/no/such/program" in res.stderr
    assert not (tmp_path / "state" / "noprog").exists()
    assert not leftovers("noprog")


def test_duplicate_id_refused(tmp_path, busybox_rootfs):
    spec = _spec()
    spec["process"]["args"] = ["sleep", "30"]
    bundle = make_bundle(tmp_path / "b", spec, rootfs_src=busybox_rootfs)
    state = tmp_path / "state"
    try:
        cli("minictr", state, "create", "--bundle", str(bundle), "dup", check=True)
        res = cli("minictr", state, "create", "--bundle", str(bundle), "dup")
        assert res.returncode != 0
        assert "container with id exists: dup" in res.stderr
        assert cli("minictr", state, "state", "dup").returncode == 0  # the first one is untouched
    finally:
        cli("minictr", state, "delete", "--force", "dup")
    assert not leftovers("dup")


def test_invalid_id(tmp_path, busybox_rootfs):
    bundle = make_bundle(tmp_path / "b", _spec(), rootfs_src=busybox_rootfs)
    res = cli("minictr", tmp_path / "state", "create", "--bundle", str(bundle), "../escape")
    assert res.returncode != 0 and "invalid container id" in res.stderr
    assert not os.path.exists(tmp_path / "escape")
