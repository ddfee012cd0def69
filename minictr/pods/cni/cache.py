"""What a CNI DEL needs, kept on disk so teardown works after minictr
restarts or the conf dir changed: the exact network configuration an
attachment was added with, its CNI_ARGS and capability args, and the ADD's
result (the DEL's and CHECK's prevResult).

libcni (which containerd uses) caches the same fields (kind "cniCacheV1")
in /var/lib/cni/results/<network>-<container>-<ifname>, written after a
successful ADD. Here the record is written *before* the first plugin runs
(without a result) and completed after the last: a crash halfway through an
ADD still leaves what the DEL that cleans it up must run. Records are keyed
by container and interface only, so a DEL finds its record without knowing
which network is configured now. Default dir: under minictr's root."""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from minictr import jsonio
from minictr.pods.cni.config import NetworkConfigList, parse
from minictr.pods.errors import CNIError

DEFAULT_CACHE_DIR = "/var/lib/minictr/cni/results"
KIND = "cniCacheV1"


@dataclass(frozen=True)
class CachedAttachment:
    container_id: str
    ifname: str
    netns: str
    network: NetworkConfigList
    args: tuple[tuple[str, str], ...]
    capability_args: dict
    result: dict | None          # None: the ADD did not finish


class ResultCache:
    def __init__(self, directory: str = DEFAULT_CACHE_DIR):
        self.directory = directory

    def path(self, container_id: str, ifname: str) -> str:
        return os.path.join(self.directory, f"{container_id}-{ifname}.json")

    def write(self, entry: CachedAttachment) -> None:
        """Atomically: a reader sees the old record or the new, never half."""
        doc = {
            "kind": KIND, "containerId": entry.container_id, "ifName": entry.ifname, "netns": entry.netns,
            "networkName": entry.network.name,
            "config": base64.b64encode(jsonio.dumps(entry.network.to_dict()).encode()).decode(),
            "cniArgs": [list(kv) for kv in entry.args], "capabilityArgs": entry.capability_args,
        }
        if entry.result is not None:
            doc["result"] = entry.result
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = self.path(entry.container_id, entry.ifname)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(jsonio.dumps(doc))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def read(self, container_id: str, ifname: str) -> CachedAttachment | None:
        path = self.path(container_id, ifname)
        try:
            doc = jsonio.load_file(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise CNIError(f"{path}: unreadable CNI cache record ({e}); remove it once the pod's network "
                           "is torn down by hand") from None
        return _entry(doc, path)

    def remove(self, container_id: str, ifname: str) -> None:
        try:
            os.unlink(self.path(container_id, ifname))
        except FileNotFoundError:
            pass

    def entries(self) -> list[CachedAttachment]:
        """Every attachment recorded: after a crash, what may need a DEL."""
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            if name.endswith(".json"):
                try:
                    found.append(_entry(jsonio.load_file(os.path.join(self.directory, name)), name))
                except (OSError, ValueError, CNIError):
                    continue
        return found


def _entry(doc, path: str) -> CachedAttachment:
    try:
        if doc.get("kind") != KIND:
            raise ValueError(f"kind {doc.get('kind')!r}")
        network = parse(base64.b64decode(doc["config"]), f"{path} (cached config)")
        return CachedAttachment(doc["containerId"], doc["ifName"], doc.get("netns", ""), network,
                                tuple((str(k), str(v)) for k, v in doc.get("cniArgs") or ()),
                                dict(doc.get("capabilityArgs") or {}), doc.get("result"))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise CNIError(f"{path}: not a CNI cache record ({e})") from None
