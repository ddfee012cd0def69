"""`volume` as docker users know it: create/ls/inspect/rm, data that
outlives its containers, refusal to remove a volume a container names,
prune of anonymous (or, with -a, all) unused volumes, bad names."""
import json
import os

import pytest

pytestmark = pytest.mark.root


def test_create_ls_inspect_rm(mc):
    assert mc("volume", "create", "--label", "team=a", "vol1", check=True).stdout == "vol1\n"
    generated = mc("volume", "create", check=True).stdout.strip()
    assert len(generated) == 64
    table = mc("volume", "ls", check=True).stdout.splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert ["local", "vol1"] in [line.split() for line in table[1:]]
    assert set(mc("volume", "ls", "-q", check=True).stdout.split()) >= {"vol1", generated}
    rows = [json.loads(line) for line in mc("volume", "ls", "--format", "json", check=True).stdout.splitlines()]
    assert {"Driver": "local", "Labels": "team=a", "Mountpoint": rows[[r["Name"] for r in rows].index("vol1")]
            ["Mountpoint"], "Name": "vol1", "Scope": "local"} in rows
    (info,) = json.loads(mc("volume", "inspect", "vol1", check=True).stdout)
    assert info["Name"] == "vol1" and info["Driver"] == "local" and info["Labels"] == {"team": "a"}
    assert os.path.isdir(info["Mountpoint"]) and info["Mountpoint"].startswith(str(mc.root))
    assert mc("volume", "inspect", "-f", "{{.Name}}", "vol1", check=True).stdout == "vol1\n"
    assert mc("volume", "rm", "vol1", generated, check=True).stdout.split() == ["vol1", generated]
    assert "vol1" not in mc("volume", "ls", "-q").stdout.split()
    assert not os.path.exists(info["Mountpoint"])


def test_data_outlives_the_container(mc):
    mc("volume", "create", "keep", check=True)
    mc("run", "--rm", "--network", "none", "-v", "keep:/data", "busybox", "sh", "-c", "echo persisted > /data/f",
       check=True)
    res = mc("run", "--rm", "--network", "none", "-v", "keep:/data", "busybox", "cat", "/data/f", check=True)
    assert res.stdout == "persisted\n"
    mc("volume", "rm", "keep", check=True)


def test_a_volume_in_use_is_not_removed(mc):
    cid = mc("create", "--name", "voluser", "--network", "none", "-v", "busyvol:/data", "busybox", "true",
             check=True).stdout.strip()
    for args in (["volume", "rm", "busyvol"], ["volume", "rm", "-f", "busyvol"]):
        res = mc(*args)
        assert res.returncode != 0
        assert res.stderr.strip() == f"Error: remove busyvol: volume is in use - [{cid}]"
    assert "busyvol" in mc("volume", "ls", "-q").stdout.split()
    assert mc("volume", "ls", "-q", "-f", "dangling=true").stdout.split().count("busyvol") == 0
    mc("rm", "voluser", check=True)
    assert "busyvol" in mc("volume", "ls", "-q", "-f", "dangling=true").stdout.split()
    mc("volume", "rm", "busyvol", check=True)


def test_prune_takes_unused_anonymous_volumes_and_with_all_named_ones(mc):
    mc("volume", "create", "named-unused", check=True)
    mc("create", "--name", "anonuser", "--network", "none", "-v", "/data", "busybox", "true", check=True)
    anonymous = mc.inspect_container("anonuser")["Mounts"][0]["Name"]
    mc("create", "--name", "anonkept", "--network", "none", "-v", "/data", "busybox", "true", check=True)
    kept = mc.inspect_container("anonkept")["Mounts"][0]["Name"]
    mc("rm", "anonuser", check=True)                 # without -v: its anonymous volume stays
    assert anonymous in mc("volume", "ls", "-q").stdout.split()
    res = mc("volume", "prune", "-f", check=True)
    assert res.stdout.startswith(f"Deleted Volumes:\n{anonymous}\n") and "Total reclaimed space:" in res.stdout
    left = mc("volume", "ls", "-q").stdout.split()
    assert anonymous not in left and kept in left and "named-unused" in left
    res = mc("volume", "prune", "-f", "-a", check=True)
    assert "named-unused" in res.stdout.split() and kept not in res.stdout.split()
    mc("rm", "-v", "anonkept", check=True)
    assert mc("volume", "ls", "-q").stdout == ""


@pytest.mark.parametrize("args,message", [
    (["volume", "create", "../escape"], 'includes invalid characters for a local volume name'),
    (["volume", "create", "-d", "nfs", "x1"], 'plugin "nfs" not found'),
    (["volume", "rm", "no-such-volume"], "get no-such-volume: no such volume"),
    (["volume", "rm", "../../etc"], "get ../../etc: no such volume"),
    (["volume", "inspect", "no-such-volume"], "get no-such-volume: no such volume"),
    (["volume", "ls", "-f", "color=red"], "invalid filter"),
])
def test_bad_input_one_clear_line(mc, args, message):
    before = mc("volume", "ls", "-q").stdout
    res = mc(*args)
    assert res.returncode != 0 and message in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert mc("volume", "ls", "-q").stdout == before


def test_rm_force_ignores_a_missing_volume(mc):
    res = mc("volume", "rm", "-f", "never-was")
    assert res.returncode == 0 and res.stdout == "" and res.stderr == ""


def test_cp_goes_through_a_running_containers_volumes_and_bind_mounts(mc, tmp_path):
    """docker cp copies into and out of what is mounted in the container
    (a named volume, a bind mount), not the layer underneath."""
    bound = tmp_path / "bound"
    bound.mkdir()
    mc.run_detached("--name", "withvol", "--network", "none", "-v", "cpvol:/data", "-v", f"{bound}:/bound",
                    "busybox", "sleep", "600")
    try:
        src = tmp_path / "note"
        src.write_text("through the volume\n")
        mc("cp", str(src), "withvol:/data/note", check=True)
        mc("cp", str(src), "withvol:/bound/note", check=True)
        assert mc("exec", "withvol", "cat", "/data/note", check=True).stdout == "through the volume\n"
        mountpoint = json.loads(mc("volume", "inspect", "cpvol", check=True).stdout)[0]["Mountpoint"]
        assert open(os.path.join(mountpoint, "note")).read() == "through the volume\n"
        assert (bound / "note").read_text() == "through the volume\n"
        mc("exec", "withvol", "sh", "-c", "echo made inside > /data/inside", check=True)
        mc("cp", "withvol:/data/inside", str(tmp_path / "out"), check=True)
        assert (tmp_path / "out").read_text() == "made inside\n"
        assert "data/note" not in mc("diff", "withvol", check=True).stdout   # not in the container's layer
    finally:
        mc("rm", "-f", "withvol", timeout=60)
        mc("volume", "rm", "cpvol")
