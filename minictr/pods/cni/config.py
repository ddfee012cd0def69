"""Step one of a pod's CNI attachment: which network configuration applies.

As containerd (go-cni) and libcni: the first file of the conf dir in
sorted name order with a .conflist, .conf or .json suffix; a .conflist is
a network configuration list, any other a single plugin configuration
wrapped as a one-plugin list. A malformed file is an error naming it and
the field (containerd fails the same way), not skipped silently.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from minictr import jsonio
from minictr.pods.errors import CNIConfigError

SUFFIXES = (".conflist", ".conf", ".json")
# versions the spec has published; a plugin says which of them it speaks
KNOWN_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
_NETWORK_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")   # libcni's rule
_PLUGIN_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")    # a file name in a bin dir


@dataclass(frozen=True)
class NetworkConfigList:
    """One network: its plugins in ADD order, as plain dicts (each plugin
    owns its own fields). `source` names the file, or '<cache>'."""
    name: str
    cni_version: str
    plugins: tuple[dict, ...]
    disable_check: bool = False
    source: str = "<memory>"

    def to_dict(self) -> dict:
        out = {"cniVersion": self.cni_version, "name": self.name, "plugins": [dict(p) for p in self.plugins]}
        if self.disable_check:
            out["disableCheck"] = True
        return out

    def version_at_least(self, version: str) -> bool:
        return _version_key(self.cni_version) >= _version_key(version)


def config_files(conf_dir: str) -> list[str]:
    """The candidate files, in the order that decides which one applies."""
    try:
        names = sorted(os.listdir(conf_dir))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise CNIConfigError(f"{conf_dir}: cannot read the CNI conf dir: {e.strerror}") from None
    return [os.path.join(conf_dir, n) for n in names
            if n.endswith(SUFFIXES) and os.path.isfile(os.path.join(conf_dir, n))]


def load_dir(conf_dir: str) -> NetworkConfigList:
    """The network that applies in conf_dir (the first file)."""
    files = config_files(conf_dir)
    if not files:
        raise CNIConfigError(f"no network config found in {conf_dir} (a *.conflist, *.conf or *.json file); "
                             "cni plugin not initialized")
    return load_file(files[0])


def load_file(path: str) -> NetworkConfigList:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CNIConfigError(f"{path}: cannot read: {e.strerror}") from None
    return parse(data, path, single=not path.endswith(".conflist"))


def parse(data: bytes | str, source: str, single: bool = False) -> NetworkConfigList:
    """A conflist (or, with single, one plugin's conf) from its bytes."""
    try:
        doc = jsonio.loads(data)
    except (jsonio.JSONError, UnicodeDecodeError) as e:
        raise CNIConfigError(f"{source}: not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise CNIConfigError(f"{source}: expected a JSON object, got {type(doc).__name__}")
    if single:
        if "plugins" in doc:
            raise CNIConfigError(f"{source}: has \"plugins\", so it is a network list: name it *.conflist")
        _check_plugin(doc, source, "")
        doc = {"cniVersion": doc.get("cniVersion"), "name": doc.get("name"), "plugins": [doc]}
    name = _field(doc, "name", str, source)
    if not _NETWORK_NAME.fullmatch(name):
        raise CNIConfigError(f"{source}: field \"name\": {name!r} is not a valid network name "
                             "(letters, digits, '_', '.', '-')")
    version = _field(doc, "cniVersion", str, source)
    if version not in KNOWN_VERSIONS:
        raise CNIConfigError(f"{source}: field \"cniVersion\": {version!r} is not a CNI version "
                             f"({', '.join(KNOWN_VERSIONS)})")
    plugins = _field(doc, "plugins", list, source)
    if not plugins:
        raise CNIConfigError(f"{source}: field \"plugins\" is empty: a network needs at least one plugin")
    for i, plugin in enumerate(plugins):
        _check_plugin(plugin, source, f"plugins[{i}]: ")
    disable = doc.get("disableCheck", False)
    if not isinstance(disable, bool):
        raise CNIConfigError(f"{source}: field \"disableCheck\" must be true or false")
    return NetworkConfigList(name, version, tuple(plugins), disable, source)


def _check_plugin(plugin, source: str, where: str) -> None:
    if not isinstance(plugin, dict):
        raise CNIConfigError(f"{source}: {where}expected a plugin object, got {type(plugin).__name__}")
    kind = _field(plugin, "type", str, source, where)
    if not _PLUGIN_TYPE.fullmatch(kind):
        raise CNIConfigError(f"{source}: {where}field \"type\": {kind!r} is not a plugin name")
    caps = plugin.get("capabilities", {})
    if not isinstance(caps, dict):
        raise CNIConfigError(f"{source}: {where}field \"capabilities\" must be an object")


def _field(doc: dict, key: str, kind: type, source: str, where: str = ""):
    if key not in doc or doc[key] is None:
        raise CNIConfigError(f"{source}: {where}field \"{key}\" is missing")
    value = doc[key]
    if not isinstance(value, kind) or (kind is str and not value):
        expected = {str: "a non-empty string", list: "a list"}[kind]
        raise CNIConfigError(f"{source}: {where}field \"{key}\" must be {expected}")
    return value


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))
