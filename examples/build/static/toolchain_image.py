#!/usr/bin/env python3
"""Make a gcc toolchain image offline, from the host's own Debian packages.

The files of the installed gcc, libc6-dev and dash packages and of every
package they depend on (the host's dpkg database says which) go into one
layer tar, which becomes a docker archive directory (manifest.json,
config.json, layer.tar) that `minictr load -i` reads. Nothing is
downloaded, so the image matches the host's compiler exactly.

    sudo python3 toolchain_image.py [--tag gcc-toolchain:local] [--minictr minictr]

Needs: dpkg, and gcc + libc6-dev installed (libc6-dev has the static libc.a).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time

ROOTS = ["gcc", "libc6-dev", "dash"]   # the compiler, the static libc, a /bin/sh for RUN
# dash Depends on dpkg only for its maintainer scripts, which an image never runs.
SKIP = {"dpkg"}
# Documentation is a third of some packages and nothing a compiler reads.
UNUSED = re.compile(r"^/usr/share/(doc|man|info|locale|lintian|bug)(/|$)")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def installed_packages() -> tuple[dict[str, str], dict[str, str]]:
    """{package: its Depends and Pre-Depends}, {virtual name: a package providing it}."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Status}\t${Depends}, ${Pre-Depends}"
                          "\t${Provides}\n"], capture_output=True, text=True, check=True).stdout
    depends, provides = {}, {}
    for line in out.splitlines():
        name, status, deps, provided = line.split("\t")
        if status != "installed":
            continue
        depends[name] = deps
        for virtual in provided.split(","):
            provides.setdefault(_bare(virtual), name)
    return depends, provides


def _bare(dep: str) -> str:
    """'libc6:amd64 (>= 2.36)' -> 'libc6'."""
    return re.sub(r"\(.*?\)", "", dep).strip().split(":")[0]


def closure(roots: list[str]) -> list[str]:
    """The roots and everything they depend on, as installed here (of a
    `a | b` choice, the first alternative that is installed)."""
    depends, provides = installed_packages()
    missing = [r for r in roots if r not in depends]
    if missing:
        sys.exit(f"toolchain_image: not installed on this host: {', '.join(missing)} "
                 f"(apt-get install {' '.join(missing)})")
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name in SKIP:
            continue
        seen.add(name)
        for dep in filter(None, (d.strip() for d in depends[name].split(","))):
            for alt in map(_bare, dep.split("|")):
                chosen = alt if alt in depends else provides.get(alt)
                if chosen:
                    todo.append(chosen)
                    break
    return sorted(seen)


def package_paths(packages: list[str]) -> list[str]:
    out = subprocess.run(["dpkg", "-L", *packages], capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if p.startswith("/") and not UNUSED.match(p)]


def resolved_entries(paths: list[str]) -> set[str]:
    """Every path to put in the layer: each listed path as it really is on
    this host, with the symlinks on the way to it (/lib -> usr/lib on a
    merged-/usr system) and the targets of the symlinks it is."""
    entries: set[str] = set()

    def add(path: str, depth: int = 0) -> None:
        if depth > 16:   # a symlink loop: leave the link dangling
            return
        parts = path.strip("/").split("/")
        cur = ""
        for i, part in enumerate(parts):
            cur = f"{cur}/{part}"
            if not os.path.lexists(cur):
                return   # listed but gone (a diverted or removed conffile)
            entries.add(cur)
            if os.path.islink(cur):
                target = os.path.normpath(os.path.join(os.path.dirname(cur), os.readlink(cur)))
                return add("/".join([target, *parts[i + 1:]]), depth + 1)

    for p in paths:
        add(p)
    return entries


def write_layer(entries: set[str], dest: str) -> None:
    """A tar of the entries, parents first, owned by root; plus the /tmp
    gcc writes its temporary files to."""
    def as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode, tmp.mtime = tarfile.DIRTYPE, 0o1777, int(time.time())
        tar.addfile(as_root(tmp))
        for path in sorted(entries):
            tar.add(path, arcname=path.lstrip("/"), recursive=False, filter=as_root)


def write_archive(layer: str, tag: str, packages: list[str]) -> None:
    """manifest.json and config.json beside the layer: a docker archive directory."""
    with open(layer, "rb") as f:
        diff_id = "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True).stdout.strip()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config = {"architecture": arch, "os": "linux", "created": created,
              "config": {"Env": [f"PATH={PATH}"], "Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]},
              "history": [{"created": created, "created_by": "toolchain_image.py: the host's "
                                                            + " ".join(packages)}]}
    folder = os.path.dirname(layer)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump([{"Config": "config.json", "RepoTags": [tag], "Layers": [os.path.basename(layer)]}], f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tag", default="gcc-toolchain:local", help="name of the image to load")
    ap.add_argument("--minictr", default="minictr", help="the minictr command to load it with")
    args = ap.parse_args()
    packages = closure(ROOTS)
    with tempfile.TemporaryDirectory(prefix="toolchain-image-", dir=os.environ.get("TMPDIR", "/var/tmp")) as tmp:
        layer = os.path.join(tmp, "layer.tar")
        write_layer(resolved_entries(package_paths(packages)), layer)
        write_archive(layer, args.tag, packages)
        print(f"toolchain_image: {len(packages)} packages, {os.path.getsize(layer) >> 20} MiB", flush=True)
        sys.exit(subprocess.run([args.minictr, "load", "-i", tmp]).returncode)


if __name__ == "__main__":
    main()
