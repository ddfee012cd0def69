"""`--explain` for a build: what each step's cache key is made of, whether
it hit and, when it missed, why (what differs from the entries the cache
holds for the same parent); a RUN step's container and how its overlay
upper dir becomes a layer; a COPY's files going straight into one. The
engine narrates the container's own kernel steps (namespaces, mounts,
cgroups) in the same trace. Every function is a no-op unless --explain."""
from __future__ import annotations

import json

from minictr import explain

# the parts of a step's description (the `what` its key hashes), by keyword
_PARTS = {
    "RUN": ("instruction", "command", "build args it uses", "network", "mounts", "content of its bind mounts"),
    "COPY": ("instruction", "source tree", "checksum of the sources (names, modes, owners, contents)",
             "destination", "--chown", "--chmod"),
}
_PARTS["ADD"] = _PARTS["COPY"]
_TEXT_PARTS = ("instruction (after substitution)", "resulting config")


def key(title: str, parent: str, what: str, key_: str) -> None:
    if explain.enabled():
        explain.step(f"cache key {_short(key_)}",
                     f"{title}: sha256 of the parent's key {_short(parent)} and {_summary(what)}")


def hit(key_: str, created: float, layer) -> None:
    if explain.enabled():
        made = "no layer (it changed no file)" if layer is None else f"layer {_short(layer.diff_id)}"
        explain.step("cache hit", f"{_short(key_)} was made by an earlier build: {made}; no container runs, "
                                  f"no layer is written")


def miss(cache, key_: str, parent: str, what: str, forced: str, parent_missed: bool) -> None:
    if explain.enabled():
        explain.step("cache miss", f"{_short(key_)}: {why_missed(cache, key_, parent, what, forced, parent_missed)}")


def why_missed(cache, key_: str, parent: str, what: str, forced: str, parent_missed: bool) -> str:
    """The reason in words: --no-cache, a collected layer, a new parent,
    or the parts of the step that differ from the closest earlier entry."""
    if forced:
        return forced
    if cache.has_entry(key_):
        return "the entry's layer was removed since (the image GC), so the step is built again"
    earlier = [(w, c) for w, c in cache.made_on(parent) if w]
    if not earlier:
        if parent_missed:
            return "the step before it was built anew, so no entry can have this parent"
        return "no build has made a step on this parent before"
    mine = _parts(what)
    same_kind = [(w, c) for w, c in earlier if _parts(w)[0].split()[:1] == mine[0].split()[:1]]
    if not same_kind:
        return f"a new instruction here: the cache has only `{earlier[0][1]}` on this parent"
    names = _PARTS.get(mine[0].split()[0] if mine[0] else "", _TEXT_PARTS)
    best, best_diff = None, None
    for w, _c in same_kind:
        theirs = _parts(w)
        diff = [i for i in range(max(len(mine), len(theirs)))
                if (mine[i] if i < len(mine) else None) != (theirs[i] if i < len(theirs) else None)]
        if best_diff is None or len(diff) < len(best_diff):
            best, best_diff = theirs, diff
    changes = []
    for i in best_diff:
        name = names[i] if i < len(names) else f"part {i}"
        was = best[i] if i < len(best) else "(none)"
        now = mine[i] if i < len(mine) else "(none)"
        changes.append(f"its {name} changed ({_clip(was)} -> {_clip(now)})")
    return "; ".join(changes) + " since the closest entry on this parent"


def run_container(container_id: str, image_id: str, argv: list[str], network: str, mounts: list) -> None:
    if explain.enabled():
        extra = f", {len(mounts)} --mount(s) for this step only" if mounts else ""
        explain.step(f"RUN container {container_id[:12]}",
                     f"`{_clip(' '.join(argv))}` on the stage so far (image {_short(image_id)}), network "
                     f"{network}{extra}: its writes land in the container's overlay upper dir")


def run_layer(upper: str, changes: list, layer) -> None:
    if explain.enabled():
        counts = {k: sum(1 for c in changes if c.kind == k) for k in "ACD"}
        opaque = sum(1 for c in changes if c.opaque)
        if layer is None:
            explain.step("no layer", f"the upper dir {upper} holds no change: an empty_layer history entry")
            return
        explain.step("upper dir -> layer",
                     f"{upper}: {counts['A']} added, {counts['C']} changed, {counts['D']} deleted "
                     f"(overlay whiteouts written as OCI .wh. files), {opaque} opaque dir(s) (.wh..wh..opq); "
                     + _layer_words(layer))


def copy_layer(entries: int, layer) -> None:
    if explain.enabled():
        explain.step("files -> layer", f"{entries} entries written straight into a tar (no container); "
                                       + _layer_words(layer))


def _layer_words(layer) -> str:
    return (f"the tar's sha256 is the diff_id {_short(layer.diff_id)}, its gzip the blob {_short(layer.blob_digest)} "
            f"({layer.blob_size} bytes), unpacked as snapshot {_short(layer.chain_id)} for the steps above it")


def _parts(what: str) -> list[str]:
    """A description as comparable parts: a JSON list's items, or a text's lines."""
    try:
        value = json.loads(what)
    except ValueError:
        value = None
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v, sort_keys=True) for v in value]
    first, _, rest = what.partition("\n")
    return [first, rest] if rest else [first]


def _summary(what: str) -> str:
    parts = _parts(what)
    names = _PARTS.get(parts[0].split()[0] if parts and parts[0] else "", _TEXT_PARTS)
    return ", ".join(f"{names[i] if i < len(names) else 'part'} {_clip(p)}" for i, p in enumerate(parts) if p)


def _short(digest: str) -> str:
    return digest[:19] if digest.startswith("sha256:") else digest[:12]


def _clip(text: str, limit: int = 72) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
