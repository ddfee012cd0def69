"""`system df`, `system prune`, `system info`/`version` as docker users
read them: the numbers follow what runs, prune takes what nothing uses
and keeps what something does."""
import json

import pytest

pytestmark = pytest.mark.root


def _df(mc) -> dict:
    rows = [json.loads(line) for line in mc("system", "df", "--format", "json", check=True).stdout.splitlines()]
    return {row["Type"]: row for row in rows}


def _bytes(text: str) -> float:
    units = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * units[unit]
    raise AssertionError(text)


def test_df_table_and_numbers_that_follow_a_run(mc):
    table = mc("system", "df", check=True).stdout.splitlines()
    assert table[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split("  ")[0] for line in table[1:]] == ["Images", "Containers", "Local Volumes", "Build Cache"]
    before = _df(mc)
    mc("run", "--name", "dfrun", "--network", "none", "-v", "dfvol:/data", "busybox", "sh", "-c",
       "dd if=/dev/zero of=/big bs=1000 count=200 2>/dev/null; echo data > /data/f", check=True)
    after = _df(mc)
    assert int(after["Containers"]["TotalCount"]) == int(before["Containers"]["TotalCount"]) + 1
    assert _bytes(after["Containers"]["Size"]) >= _bytes(before["Containers"]["Size"]) + 200_000
    assert _bytes(after["Containers"]["Reclaimable"]) >= 200_000            # it exited: reclaimable
    assert int(after["Local Volumes"]["TotalCount"]) == int(before["Local Volumes"]["TotalCount"]) + 1
    assert int(after["Local Volumes"]["Active"]) == int(before["Local Volumes"]["Active"]) + 1
    assert after["Images"]["Active"] == "1" and after["Build Cache"]["TotalCount"] == "0"
    mc("rm", "-v", "dfrun", check=True)
    mc("volume", "rm", "dfvol", check=True)
    assert _df(mc)["Containers"]["TotalCount"] == before["Containers"]["TotalCount"]


def test_prune_removes_stopped_containers_and_dangling_images_only(mc):
    keep = mc.run_detached("--name", "pruneup", "--network", "none", "busybox", "sleep", "600")
    gone = mc("create", "--name", "prunegone", "--network", "none", "busybox", "true", check=True).stdout.strip()
    mc("run", "--name", "pruneexited", "--network", "none", "busybox", "sh", "-c", "echo x > /x", check=True)
    exited = mc.inspect_container("pruneexited")["Id"]
    dangling = mc("commit", "pruneexited", check=True).stdout.strip()          # no name: dangling
    tagged = mc("commit", "pruneexited", "prune-tagged:v1", check=True).stdout.strip()
    res = mc("system", "prune", "-f", check=True, timeout=120)
    lines = res.stdout.splitlines()
    assert lines[0] == "Deleted Containers:"
    assert set(lines[1:3]) == {gone, exited}
    assert f"deleted: {dangling}" in lines and f"deleted: {tagged}" not in lines
    assert lines[-1].startswith("Total reclaimed space: ")
    assert mc("ps", "-aq", "--no-trunc").stdout.split() == [keep]
    images = mc("images", "-q", "--no-trunc").stdout.split()
    assert tagged in images and dangling not in images
    # -a: every image no container uses; busybox stays, pruneup uses it
    res = mc("system", "prune", "-f", "-a", check=True, timeout=120)
    assert f"deleted: {tagged}" in res.stdout.splitlines()
    assert mc("images", "busybox", "-q").stdout.strip()
    mc("rm", "-f", "pruneup", check=True)


def test_prune_volumes_takes_anonymous_unused_ones(mc):
    mc("create", "--name", "prunevol", "--network", "none", "-v", "/anon", "-v", "prunenamed:/named", "busybox",
       "true", check=True)
    anonymous = [m["Name"] for m in mc.inspect_container("prunevol")["Mounts"] if m["Destination"] == "/anon"][0]
    res = mc("system", "prune", "-f", check=True)
    assert anonymous in mc("volume", "ls", "-q").stdout.split()                  # not without --volumes
    assert "Deleted Volumes:" not in res.stdout
    mc("create", "--name", "prunevol2", "--network", "none", "-v", "/anon2", "busybox", "true", check=True)
    res = mc("system", "prune", "-f", "--volumes", check=True)
    assert "Deleted Volumes:" in res.stdout and anonymous in res.stdout.split()
    left = mc("volume", "ls", "-q").stdout.split()
    assert anonymous not in left and "prunenamed" in left
    mc("volume", "rm", "prunenamed", check=True)
    mc("volume", "prune", "-f", check=True)


def test_info_counts_containers_and_version_prints(mc):
    mc.run_detached("--name", "inforun", "--network", "none", "busybox", "sleep", "600")
    mc("create", "--name", "infocreated", "--network", "none", "busybox", "true", check=True)
    data = json.loads(mc("system", "info", "--format", "json", check=True).stdout)
    assert (data["Containers"], data["ContainersRunning"], data["ContainersStopped"]) == (2, 1, 1)
    assert data["Images"] >= 1
    text = mc("info", check=True).stdout.splitlines()
    assert text[:4] == ["Containers: 2", " Running: 1", " Paused: 0", " Stopped: 1"]
    assert mc("system", "version", check=True).stdout.startswith("minictr version ")
    mc("rm", "-f", "inforun", "infocreated", check=True)


def test_system_group_rejects_unknown_commands(mc):
    res = mc("system", "explode")
    assert res.returncode != 0 and "No such command" in res.stderr
