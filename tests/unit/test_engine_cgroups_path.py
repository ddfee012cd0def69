"""Where the engine puts a container's cgroup: /minictr/ID by default,
under a --cgroup-parent path (the kubelet's cgroupfs driver), or in a
systemd slice (the kubelet's systemd driver), as runc lays those out."""
from minictr.engine.bundle import cgroups_path
from minictr.runtime.cgroups.hierarchy import resolve


def test_the_default_parent_and_a_path_parent():
    assert cgroups_path("abc") == "/minictr/abc"
    assert cgroups_path("abc", "/kubepods/burstable/pod1") == "/kubepods/burstable/pod1/abc"
    assert cgroups_path("abc", "kubepods/pod1/") == "/kubepods/pod1/abc"
    assert cgroups_path("abc", "/") == "/abc"


def test_a_systemd_slice_parent_expands_as_systemd_nests_slices():
    path = cgroups_path("abc", "kubepods-burstable-pod1.slice")
    assert path == "kubepods-burstable-pod1.slice:minictr:abc"
    assert resolve(path, "abc", "/user.slice") == \
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/minictr-abc.scope"
