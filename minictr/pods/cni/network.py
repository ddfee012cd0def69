"""A pod's attachment to the CNI network: ADD, CHECK and DEL of a whole
network configuration list, as libcni's AddNetworkList / CheckNetworkList
/ DelNetworkList do (spec section 4):

- ADD runs the plugins in order, each given the previous one's result as
  `prevResult`; the last result is the attachment's. If one fails, the
  whole list is DELeted (what containerd does) and the error raised, so a
  failed ADD leaves no veth, address or NAT chain behind.
- DEL runs them in reverse, with the ADD's result as prevResult when it is
  known; the configuration, CNI_ARGS and capability args come from the
  cache record (cache.py) written when the ADD began, so a DEL after a
  restart or a config change undoes what was really set up. Plugins must
  tolerate a DEL of what is already gone, so a second DEL is harmless.
- CHECK (spec 0.4.0 and later, unless the list says disableCheck) runs
  them in order, each given the ADD's result.

Every plugin receives the list's `name` and `cniVersion`, and in
`runtimeConfig` the capability args (portMappings, bandwidth...) it
declares in its `capabilities`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from minictr import explain
from minictr.pods.cni import config as cni_config
from minictr.pods.cni.cache import DEFAULT_CACHE_DIR, CachedAttachment, ResultCache
from minictr.pods.cni.config import NetworkConfigList
from minictr.pods.cni.plugins import DEFAULT_BIN_DIRS, DEFAULT_TIMEOUT, Invocation, find_plugin, run_plugin
from minictr.pods.cni.result import Result, parse_result
from minictr.pods.errors import CNIConfigError, CNIError

DEFAULT_CONF_DIR = "/etc/cni/net.d"
_CONTAINER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")   # the spec's rule for CNI_CONTAINERID
_IFNAME = re.compile(r"[^/\s:]{1,15}")                         # a Linux interface name


@dataclass(frozen=True)
class Attachment:
    """One pod on the network: who (container_id, the sandbox's id), where
    (the netns path and the interface name inside it) and the extra
    parameters: CNI_ARGS pairs and capability args (runtimeConfig)."""
    container_id: str
    netns: str
    ifname: str = "eth0"
    args: tuple[tuple[str, str], ...] = ()
    capability_args: dict = field(default_factory=dict, hash=False)

    def __post_init__(self):
        if not _CONTAINER_ID.fullmatch(self.container_id or ""):
            raise CNIError(f"container id {self.container_id!r}: letters, digits, '_', '.', '-' only")
        if not _IFNAME.fullmatch(self.ifname or ""):
            raise CNIError(f"interface name {self.ifname!r} is not a valid Linux interface name")


def pod_args(namespace: str, name: str, sandbox_id: str, uid: str = "") -> tuple[tuple[str, str], ...]:
    """CNI_ARGS as containerd and CRI-O pass them for a Kubernetes pod."""
    args = [("IgnoreUnknown", "1"), ("K8S_POD_NAMESPACE", namespace), ("K8S_POD_NAME", name),
            ("K8S_POD_INFRA_CONTAINER_ID", sandbox_id)]
    if uid:
        args.append(("K8S_POD_UID", uid))
    return tuple(args)


class CNI:
    """The CNI setup of one runtime: where configuration, plugins and the
    cache live. Stateless between calls, so threads may share one."""

    def __init__(self, conf_dir: str = DEFAULT_CONF_DIR, bin_dirs=DEFAULT_BIN_DIRS,
                 cache_dir: str = DEFAULT_CACHE_DIR, timeout: float = DEFAULT_TIMEOUT):
        self.conf_dir = conf_dir
        self.bin_dirs = tuple(bin_dirs)
        self.cache = ResultCache(cache_dir)
        self.timeout = timeout

    def network(self) -> NetworkConfigList:
        """The network configured now (the conf dir's first file)."""
        return cni_config.load_dir(self.conf_dir)

    def status(self) -> None:
        """Raise unless a network is configured and all its plugins exist:
        the NetworkReady condition of CRI's Status."""
        self._plugin_paths(self.network())

    def add(self, att: Attachment) -> Result:
        """Attach; an attachment already added returns its cached result."""
        known = self.cache.read(att.container_id, att.ifname)
        if known is not None and known.result is not None:
            return parse_result(known.result, "(cached)")
        if known is not None:   # an ADD that did not finish: undo it first
            self.delete(att)
        net = self.network()
        paths = self._plugin_paths(net)
        entry = CachedAttachment(att.container_id, att.ifname, att.netns, net, att.args,
                                 dict(att.capability_args), None)
        self.cache.write(entry)
        prev = None
        try:
            for plugin, path in zip(net.plugins, paths):
                explain.step(f"cni ADD {plugin['type']}", f"network {net.name}, {att.ifname} in {att.netns}")
                prev = run_plugin(path, _plugin_conf(net, plugin, prev, att.capability_args),
                                  self._call("ADD", att), self.timeout)
            result = parse_result(prev, net.plugins[-1]["type"])
        except BaseException:
            self._rollback(entry)
            raise
        self.cache.write(replace(entry, result=prev))
        return result

    def delete(self, att: Attachment) -> None:
        """Detach; nothing attached is not an error."""
        entry = self.cache.read(att.container_id, att.ifname)
        if entry is None:
            # the record is written before any plugin runs: with none, no
            # ADD of ours began. DEL with today's config anyway (plugins
            # tolerate it) unless there is none, then there is nothing to undo.
            try:
                net = self.network()
            except CNIConfigError:
                return
            entry = CachedAttachment(att.container_id, att.ifname, att.netns, net, att.args,
                                     dict(att.capability_args), None)
        self._delete(entry, att.netns or entry.netns)
        self.cache.remove(att.container_id, att.ifname)

    def recorded(self, container_id: str, ifname: str) -> bool:
        """Whether an ADD of this attachment is recorded (begun, not yet deleted)."""
        return self.cache.read(container_id, ifname) is not None

    def check(self, att: Attachment) -> None:
        """Raise CNIError (the failing plugin's) if the attachment is not as the ADD left it."""
        entry = self.cache.read(att.container_id, att.ifname)
        if entry is None or entry.result is None:
            raise CNIError(f"CHECK of {att.container_id} ({att.ifname}): no completed ADD is recorded in "
                           f"{self.cache.directory}")
        net = entry.network
        if net.disable_check:
            return
        if not net.version_at_least("0.4.0"):
            raise CNIError(f"CHECK needs cniVersion 0.4.0 or later; network {net.name!r} ({net.source}) "
                           f"is {net.cni_version}")
        call = Invocation("CHECK", entry.container_id, att.netns or entry.netns, entry.ifname, entry.args,
                          self.bin_dirs)
        for plugin, path in zip(net.plugins, self._plugin_paths(net)):
            run_plugin(path, _plugin_conf(net, plugin, entry.result, entry.capability_args), call, self.timeout)

    def attachments(self) -> list[CachedAttachment]:
        """Every attachment the cache records: after a crash, compare with
        the sandboxes known and delete() the rest."""
        return self.cache.entries()

    def _delete(self, entry: CachedAttachment, netns: str) -> None:
        net = entry.network
        call = Invocation("DEL", entry.container_id, netns, entry.ifname, entry.args, self.bin_dirs)
        for plugin, path in reversed(list(zip(net.plugins, self._plugin_paths(net)))):
            explain.step(f"cni DEL {plugin['type']}", f"network {net.name}, {entry.ifname} in {netns}")
            run_plugin(path, _plugin_conf(net, plugin, entry.result, entry.capability_args), call, self.timeout)

    def _rollback(self, entry: CachedAttachment) -> None:
        """After a failed ADD: DEL all of it; the ADD's error is the one the
        caller sees, so a failing DEL keeps the record for a later retry."""
        try:
            self._delete(entry, entry.netns)
        except CNIError:
            return
        self.cache.remove(entry.container_id, entry.ifname)

    def _plugin_paths(self, net: NetworkConfigList) -> list[str]:
        # all found before the first runs: a missing one must not leave half a network
        return [find_plugin(p["type"], self.bin_dirs, net.name, net.source) for p in net.plugins]

    def _call(self, command: str, att: Attachment) -> Invocation:
        return Invocation(command, att.container_id, att.netns, att.ifname, att.args, self.bin_dirs)


def _plugin_conf(net: NetworkConfigList, plugin: dict, prev: dict | None, capability_args: dict) -> dict:
    """What one plugin reads on stdin (libcni's buildOneConfig)."""
    conf = dict(plugin)
    conf["name"] = net.name
    conf["cniVersion"] = net.cni_version
    if prev is not None:
        conf["prevResult"] = prev
    wanted = plugin.get("capabilities") or {}
    runtime = {k: v for k, v in capability_args.items() if wanted.get(k) is True}
    if runtime:
        conf["runtimeConfig"] = runtime
    else:
        conf.pop("runtimeConfig", None)
    return conf
