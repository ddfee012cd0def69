"""The named contexts (--build-context, build/named_contexts.py) as the
Builder's sources (mixed in, build/builder.py): an image one is that
image, wherever a FROM, COPY --from or RUN --mount from= names it; a
directory one is a tree to copy or bind from (its own .dockerignore
applied, its content checksummed into the cache key as the main
context's is) and, as a FROM or in place of a stage, BuildKit's image
with no config and the directory's files as its one layer."""
from __future__ import annotations

import contextlib
import json
import time

from minictr.build import copy_step, dockerignore, run_mounts
from minictr.build.context import BuildContext
from minictr.build.errors import BuildError, DockerfileError
from minictr.build.named_contexts import lookup_name
from minictr.build.state import ImageState, chain_key
from minictr.build.tree import read_only_tree
from minictr.engine.diff import LowerView
from minictr.errors import MinictrError
from minictr.image.layer_writer import LayerWriter
from minictr.image.tar_writer import write_tar


class NamedSources:
    def _named(self, word: str):
        """The --build-context a FROM / --from word names, or None."""
        contexts = self.opts.build_contexts
        if not contexts:
            return None
        key = lookup_name(word)
        return contexts.get(key) if key is not None else None

    def _named_stage(self, named, where) -> ImageState:
        """A stage a named context replaces (BuildKit: none of its steps run)."""
        vertex = self.progress.begin(f"[context {named.name}] {named.kind} {named.value}")
        try:
            state = self._named_state(named, where)
        except MinictrError as e:   # a pull that failed, a file the layer could not read
            vertex.error(str(e))
            raise e if isinstance(e, DockerfileError) else DockerfileError(*where, f"context {named.name}: {e}")
        vertex.done()
        return state

    def _named_state(self, named, where) -> ImageState:
        """A named context as a stage's starting state."""
        if named.kind == "image":
            return self._named_image(named, where)
        tree = self._named_dir(named)
        entries = [e for e in copy_step.plan(tree, ["."], "/", "/", LowerView([])) if e.name != "/"]
        sums = copy_step.checksum(entries, None, None)
        key = chain_key("scratch", json.dumps(["context", named.name, sums]))
        created_by = f"[context {named.name}] load from client"
        base = ImageState.scratch()
        config = dict(base.config)
        hit = None if self.opts.no_cache else self.cache.get(key)
        if hit:
            layer, created = hit
        else:
            with LayerWriter(self.store, None, what=f"context {named.name} layer") as writer:
                write_tar(self._clamp(copy_step.nodes(entries, None, None, time.time_ns())), writer)
                writer.finish()
                layer = writer.commit()
            created = self.cache.put(key, layer, created_by)
        state = base.step(key, config, self._rfc3339(created), created_by, layer)
        state.key = key
        return state

    def _named_tree(self, named, where):
        """A named context as the tree a COPY --from or a bind mount reads:
        (BuildContext, its part of the cache key), as _source_tree gives."""
        if named.kind == "dir":
            return contextlib.nullcontext((self._named_dir(named), f"context:{named.name}"))
        state = self._named_image(named, where)

        @contextlib.contextmanager
        def opened():
            with read_only_tree(self.store.snapshots, state.chain_ids, self.scratch_dir) as root:
                yield BuildContext(root, in_root=True), state.key
        return opened()

    def _named_dir(self, named) -> BuildContext:
        return BuildContext(named.value, dockerignore.rules_for(named.value, None))

    def _named_image(self, named, where) -> ImageState:
        image = self.store.records.find(named.value)
        if image is None:
            if self.opts.pull is None:
                raise DockerfileError(*where, f"build context {named.name}: docker-image://{named.value}: "
                                              "no such image")
            self.opts.pull(named.value)
            image = self.store.records.lookup(named.value)
        return ImageState.of_image(self.store, image)


def sources_read(ins) -> list[str]:
    """The stages (or images, or named contexts) a step reads: COPY/ADD
    --from, RUN --mount from=."""
    if ins.keyword in ("COPY", "ADD"):
        return [value for key, value in ins.flags if key == "from" and value]
    if ins.keyword == "RUN":
        found = []
        for key, value in ins.flags:
            if key == "mount":
                try:
                    found.append(run_mounts.parse(value).from_)
                except BuildError:
                    pass   # said at the step, with its line
        return [f for f in found if f]
    return []
