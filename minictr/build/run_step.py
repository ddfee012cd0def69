"""RUN: the command in a container of the state's image, through the
engine (so a build's steps get what `run` gives: namespaces, cgroups,
seccomp, the default bridge), its output streamed, then the container's
changes (its overlay upper dir, whiteouts and opaque dirs as OCI has
them) as one new layer: `commit`'s layer, without commit's image. The
container goes whatever happens."""
from __future__ import annotations

import itertools
import time

from minictr.build import copy_step, narrate
from minictr.build.errors import RunFailed
from minictr.engine import diff as _diff
from minictr.engine import status
from minictr.engine.commit import layer_nodes
from minictr.engine.errors import EngineError
from minictr.engine.logs import follow_logs
from minictr.engine.spec import ContainerSpec
from minictr.image.layer_writer import LayerWriter
from minictr.image.tar_writer import write_tar


def run(engine, image_id: str, parent_chain_id: str | None, argv: list[str], env: list[str], workdir: str,
        user: str, network: str, add_hosts: list, emit, mounts: list[dict] = (), rewrite=None,
        labels: dict | None = None, keep_dirs: list[str] = (), compression: str = "gzip"):
    """The layer the command made (None if it changed no file). `emit(text)`
    gets each piece of output as it comes; `mounts`: OCI mounts for the
    step only (RUN --mount), never in the layer; `compression`: its blob's."""
    spec = ContainerSpec(image=image_id, cmd=list(argv), entrypoint=[], env=list(env), workdir=workdir,
                         user=user, network=network, add_hosts=[list(h) for h in add_hosts],
                         labels={"org.minictr.build": "step", **(labels or {})},
                         oci_mounts=[dict(m) for m in mounts])
    rec = engine.create(spec)
    narrate.run_container(rec.id, image_id, argv, network, list(mounts))
    tail: list[str] = []
    try:
        engine.start(rec)
        paths = engine.paths(rec.id)
        for entry in follow_logs(paths.log, stop=lambda: _stopped(engine, rec), interval=0.01):
            text = entry.text.decode(errors="replace") if isinstance(entry.text, bytes) else entry.text
            emit(text)
            tail = (tail + [text])[-10:]
        code = engine.wait(rec)
        if code != 0:
            raise RunFailed(code, tail)
        changes = _diff.entries(engine, rec)
        extra = _mount_point_nodes(engine, rec, keep_dirs, {e.path for e in changes})
        if not changes and not extra:
            narrate.run_layer(paths.upper, changes, None)
            return None
        with LayerWriter(engine.images, parent_chain_id, what="RUN layer", compression=compression) as layer:
            nodes = itertools.chain(extra, layer_nodes(engine, rec, changes))
            write_tar(rewrite(nodes) if rewrite else nodes, layer)
            layer.finish()
            record = layer.commit()
        narrate.run_layer(paths.upper, changes, record)
        return record
    finally:
        try:
            engine.remove(engine.records.get(rec.id), force=True)
        except EngineError:
            pass   # gone already


def _mount_point_nodes(engine, rec, keep_dirs, changed: set[str]) -> list:
    """The directories made for RUN --mount targets stay in the layer, empty,
    as BuildKit leaves them (their content never does)."""
    if not keep_dirs:
        return []
    lower = _diff.LowerView(_diff.lower_layers(engine, rec))
    wanted = [copy_step.Entry(d, None, None) for d in keep_dirs if lower.lstat(d) is None]
    entries = [e for e in copy_step.with_parents(wanted, lower) if e.name not in changed]
    return list(copy_step.nodes(entries, None, None, time.time_ns()))


def _stopped(engine, rec) -> bool:
    return engine.lookup(rec.id).status not in status.ACTIVE
