"""Putting rules.Spec lists into the kernel's legacy tables through
python-iptables (iptc), and taking them out again by tag.

Only networks being made or removed come here, and a root's teardown
(published ports go through restore.py, in chains of their own): a `run`
on a ready network, with or without -p, never imports iptc. Importing it
costs ~340 ms as is
(its util imports distutils, which setuptools' shim turns into
pkg_resources; ctypes.util.find_library runs ldconfig and gcc a dozen
times; ldconfig -v finds the xtables directory); `load_iptc` brings that to
~40 ms by telling it where the libraries are and letting it take its own
no-distutils path.

Changes are read-modify-commit of whole tables, so concurrent minictr
processes (and iptables-legacy) are serialized by the xtables lock file,
as iptables -w does."""
from __future__ import annotations

import fcntl
import os
import sys

from minictr.network.errors import NetworkError
from minictr.network.rules import BASE_PREFIX, CHAINS, Spec, base_specs, why

XTABLES_LOCK = os.environ.get("XTABLES_LOCKFILE", "/run/xtables.lock")
_iptc = None


def _library_dirs() -> list[str]:
    import sysconfig
    arch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [f"/usr/lib/{arch}", f"/lib/{arch}"] if arch else []
    return dirs + ["/usr/lib64", "/lib64", "/usr/lib", "/lib"]


def load_iptc():
    """Import iptc cheaply (see the module docstring); the environment and
    ctypes are as they were afterwards."""
    global _iptc
    if _iptc is not None:
        return _iptc
    if "iptc" in sys.modules:
        _iptc = sys.modules["iptc"]
        return _iptc
    import ctypes.util
    import importlib.util
    saved_env = {k: os.environ.get(k) for k in ("XTABLES_LIBDIR", "IPTABLES_LIBDIR")}
    libdir = next((d for d in _library_dirs() if os.path.exists(os.path.join(d, "libxtables.so.12"))
                   or os.path.isdir(os.path.join(d, "xtables"))), None)
    spec = importlib.util.find_spec("iptc")
    if spec is None:
        raise NetworkError("python-iptables is not installed (pip install python-iptables)")
    site_dir = os.path.dirname(list(spec.submodule_search_locations)[0])  # where libxtwrapper*.so lives
    if libdir and not saved_env["XTABLES_LIBDIR"] and os.path.isdir(os.path.join(libdir, "xtables")):
        os.environ["XTABLES_LIBDIR"] = os.path.join(libdir, "xtables")
    if not saved_env["IPTABLES_LIBDIR"]:
        os.environ["IPTABLES_LIBDIR"] = ":".join(d for d in (libdir, site_dir) if d)
    blocked_distutils = "distutils" not in sys.modules
    if blocked_distutils:
        sys.modules["distutils"] = None  # iptc.util then uses sysconfig, its own fallback
    find_library, found = ctypes.util.find_library, {}

    def find_library_once(name):
        if name not in found:
            found[name] = find_library(name)
        return found[name]
    ctypes.util.find_library = find_library_once
    try:
        import iptc
    except Exception as e:
        raise NetworkError(f"cannot load python-iptables: {e}") from None
    finally:
        ctypes.util.find_library = find_library
        if blocked_distutils and sys.modules.get("distutils", 0) is None:
            del sys.modules["distutils"]
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    _iptc = iptc
    return iptc


def _comment(rule) -> str:
    for match in rule.matches:
        if match.name == "comment":
            return match.parameters.get("comment", "")
    return ""


def _build(iptc, spec: Spec):
    rule = iptc.Rule()
    if spec.src:
        rule.src = spec.src
    if spec.dst:
        rule.dst = spec.dst
    if spec.in_:
        rule.in_interface = spec.in_
    if spec.out:
        rule.out_interface = spec.out
    if spec.proto:
        rule.protocol = spec.proto
    for name, options in spec.matches:
        match = rule.create_match(name)
        for key, value in options.items():
            setattr(match, key, value)
    rule.create_match("comment").comment = spec.tag
    target = rule.create_target(spec.target)
    for key, value in spec.target_args.items():
        setattr(target, key, value)
    return rule


class _Locked:
    """The xtables lock, held across a read-modify-commit of the tables."""

    def __enter__(self):
        self.fd = os.open(XTABLES_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def apply(add: list[Spec] = (), remove_prefixes: tuple[str, ...] = (), prune: bool = False) -> None:
    """One locked transaction on nat and filter: drop every rule whose tag
    starts with one of `remove_prefixes`, add `add` (the shared chains and
    jumps first; a rule whose tag is present already is left alone), and
    with `prune`, when no rule but the shared jumps is left in our chains,
    remove the jumps and the chains."""
    from minictr.explain import step
    iptc = load_iptc()
    tables = {name: iptc.Table(name, autocommit=False) for name in ("nat", "filter")}
    with _Locked():
        try:
            for table in tables.values():
                table.refresh()
            if remove_prefixes:
                _remove(iptc, tables, remove_prefixes, step)
            if add:
                _add(iptc, tables, base_specs() + list(add), step)
            if prune:
                _prune(iptc, tables, step)
            for table in tables.values():
                table.commit()
        except iptc.IPTCError as e:
            raise NetworkError(f"iptables: {e}") from None
        finally:
            for table in tables.values():
                table.refresh()  # re-read: drops anything not committed


def _chains(iptc, table, names):
    return [iptc.Chain(table, name) for name in names if table.is_chain(name)]


def _remove(iptc, tables, prefixes, step) -> None:
    for name, table in tables.items():
        for chain in table.chains:
            for rule in chain.rules:
                tag = _comment(rule)
                if tag.startswith(prefixes):
                    step(f"iptables -t {name} -D {chain.name} ... --comment \"{tag}\"", "remove a rule of ours")
                    chain.delete_rule(rule)


def _add(iptc, tables, specs, step) -> None:
    for name, chains in CHAINS.items():
        for chain in chains:
            if not tables[name].is_chain(chain):
                step(f"iptables -t {name} -N {chain}", "minictr keeps all its rules in chains of its own")
                tables[name].create_chain(chain)
    present = {name: {_comment(r) for c in t.chains for r in c.rules} for name, t in tables.items()}
    for spec in specs:
        if spec.tag in present[spec.table]:
            continue
        step(spec.text(), why(spec))
        chain = iptc.Chain(tables[spec.table], spec.chain)
        rule = _build(iptc, spec)
        if spec.insert:
            chain.insert_rule(rule)
        else:
            chain.append_rule(rule)
        present[spec.table].add(spec.tag)


def _prune(iptc, tables, step) -> None:
    for name, chains in CHAINS.items():
        for chain in _chains(iptc, tables[name], chains):
            if any(not _comment(r).startswith(BASE_PREFIX) for r in chain.rules):
                return  # some network (of any engine root) still uses them
    _remove(iptc, tables, (BASE_PREFIX,), step)
    for name, chains in CHAINS.items():
        for chain in _chains(iptc, tables[name], chains):
            chain.flush()
        for chain in chains:
            if tables[name].is_chain(chain):
                step(f"iptables -t {name} -X {chain}", "no network uses minictr's chains any more")
                tables[name].delete_chain(chain)
