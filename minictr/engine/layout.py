"""Where one container's files live.

    <root>/containers/<id>/bundle/config.json   the OCI bundle the runtime gets
    <root>/containers/<id>/bundle/rootfs        the overlay of the image's snapshots
    <root>/containers/<id>/upper, work          the container's own writable layer
    <root>/containers/<id>/hosts, resolv.conf, hostname   bind-mounted into it
    <root>/containers/<id>/<id>-json.log        docker's json-file log
    <run>/containers/<id>/                      the shim's dir: attach socket, exit record
    <run>/runtime/                              the in-process runtime's state (as /run/runc)

<run> is /run/minictr for the default root (volatile, as docker's exec
root), else <root>/run, so roots side by side never share state."""
from __future__ import annotations

import os

from minictr.state import paths


def run_root(root: str) -> str:
    override = os.environ.get("MINICTR_RUN_ROOT")
    if override:
        return os.path.abspath(override)
    return "/run/minictr" if root == paths.DEFAULT_ROOT else os.path.join(root, "run")


class ContainerPaths:
    __slots__ = ("id", "dir", "bundle", "config", "rootfs", "upper", "work", "hosts", "resolv_conf",
                 "hostname", "log", "run_dir", "shm")

    def __init__(self, root: str, container_id: str):
        self.id = container_id
        self.dir = os.path.join(root, "containers", container_id)
        self.bundle = os.path.join(self.dir, "bundle")
        self.config = os.path.join(self.bundle, "config.json")
        self.rootfs = os.path.join(self.bundle, "rootfs")
        self.upper = os.path.join(self.dir, "upper")
        self.work = os.path.join(self.dir, "work")
        self.hosts = os.path.join(self.dir, "hosts")
        self.resolv_conf = os.path.join(self.dir, "resolv.conf")
        self.hostname = os.path.join(self.dir, "hostname")
        self.log = os.path.join(self.dir, f"{container_id}-json.log")
        self.run_dir = os.path.join(run_root(root), "containers", container_id)
        self.shm = os.path.join(self.dir, "shm")   # --ipc shareable: its /dev/shm (engine.shm)


def log_file(paths: ContainerPaths, spec) -> str:
    """The container's log: where CRI's kubelet asked for it, else docker's place."""
    return spec.log_path or paths.log


def runtime_root(root: str) -> str:
    return os.path.join(run_root(root), "runtime")
