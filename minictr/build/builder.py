"""The builder: a parsed Dockerfile and a context become an image.

The stages the target needs are built, each once the ones it needs are
(build/stages.py: independent ones at once, in threads); the ones it does
not need are skipped. Each instruction is one step on an in-memory
ImageState. Config-only steps change the config and add an empty_layer
history entry; RUN runs in a container through the engine; COPY and ADD
write their files straight into a layer. Every step has a cache key (its
parent's key and what it is, after substitution, with the checksums of
what it copies) and a cache entry once done, so an unchanged rebuild runs
no container and writes no layer, and gives the same image ID."""
from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import threading
import time

from minictr.build import instructions as ins_mod, layer_compression, leftovers, narrate, stages
from minictr.build.cache import NO_LAYER, BuildCache
from minictr.build.config_steps import _PREDEFINED_ARGS, ConfigSteps
from minictr.build.context import BuildContext
from minictr.build.copy_steps import CopySteps
from minictr.build.errors import BuildError, DockerfileError, RunFailed
from minictr.build.file_sums import FileSums
from minictr.build.named_sources import NamedSources, sources_read
from minictr.build.options import BuildOptions
from minictr.build.run_steps import RunSteps
from minictr.build.state import ImageState
from minictr.errors import MinictrError
from minictr.state.locks import gc_lock

CONFIG_ONLY = {"ENV", "LABEL", "MAINTAINER", "WORKDIR", "USER", "EXPOSE", "VOLUME", "STOPSIGNAL", "CMD",
               "ENTRYPOINT", "SHELL", "HEALTHCHECK", "ONBUILD"}


class _Stage:
    """A stage while it builds: its state and the ARGs in its scope."""

    def __init__(self, stage, label: str, state: ImageState, args: dict):
        self.stage, self.label, self.state, self.args = stage, label, state, args
        self.cmd_set = False    # a CMD of this stage's: an ENTRYPOINT after it keeps it
        self.vertex = None      # the step's progress (build.progress.Vertex)
        self.vertex_title = ""
        self.pending = ("", "")  # the step's parent key and description, for its cache entry
        self.last_missed = False


class Builder(ConfigSteps, RunSteps, CopySteps, NamedSources):
    """The stages and the order of the steps; the steps themselves are in
    config_steps.py, run_steps.py and copy_steps.py, --build-context's
    sources in named_sources.py (mixed in)."""

    def __init__(self, engine, dockerfile, opts: BuildOptions, context: BuildContext):
        self.engine = engine
        self.df = dockerfile
        self.opts = opts
        self.context = context
        self.file_sums = FileSums(self.store.conn, context.root)   # the context's checksums, by stat
        self.progress = opts.progress
        self.compression = opts.compression or "gzip"   # every layer the build writes
        self.results: dict[int, ImageState] = {}
        self.used_args: set[str] = set()
        self.owner = leftovers.owner_tag()
        self.scratch_dir = leftovers.scratch_dir(self.store.root, self.owner)
        self.scheduler = stages.Scheduler()   # independent stages at once
        self.materializing = threading.Lock()
        self.step_numbers = itertools.count(1)

    @property
    def store(self):
        """The image store, through this thread's own connection (stages build in threads)."""
        return self.engine.images

    @property
    def cache(self) -> BuildCache:
        return BuildCache(self.engine.images)

    # -- the whole build ---------------------------------------------------------

    def build(self) -> str:
        """Builds the target; its image ID (tagged as asked)."""
        target = self._target()
        meta = self._meta_args()
        leftovers.sweep(self.engine)   # what builds killed earlier left
        try:
            image_id = self._build(target, meta)
        finally:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)
        self.file_sums.forget_missing()
        return image_id

    def _build(self, target, meta: dict) -> str:
        with gc_lock(self.store.root, shared=True):
            order, needs = self._order(target, meta)
            self.scheduler.build_all(order, needs, lambda i: self._build_stage(self.df.stages[i], meta), self.results)
            final = self.results[target.index]
            if self.opts.labels:   # --label: on the image, not a step of its history
                config = ins_mod.copy_config(final.config)
                config["Labels"] = {**(config.get("Labels") or {}), **self.opts.labels}
                final = final.with_config(config, json.dumps(self.opts.labels, sort_keys=True))
            if self.opts.force_compression:
                final = layer_compression.forced(self.store, self.cache, final, self.compression)
            image_id = final.materialize(self.store)
            for tag in self.opts.tags:
                self.store.records.tag(image_id, tag)
        unused = sorted(set(self.opts.build_args) - self.used_args - set(_PREDEFINED_ARGS))
        if unused:
            self.progress.note(f"[warning] one or more build-args {unused} were not consumed")
        return image_id

    def _target(self):
        stages = self.df.stages
        if not stages:
            raise DockerfileError(self.df.path, 1, "no build stage in current context")
        if not self.opts.target:
            return stages[-1]
        for stage in stages:
            if stage.name == self.opts.target.lower():
                return stage
        raise BuildError(f"failed to reach build target {self.opts.target} in Dockerfile")

    def _meta_args(self) -> dict:
        """The ARGs before the first FROM: they can be used in FROM lines."""
        out = {k: v for k, v in _PREDEFINED_ARGS.items() if v is not None and k.startswith(("TARGET", "BUILD"))}
        for ins in self.df.meta_args:
            for name, default in self._arg_pairs(ins, out):
                if name in self.opts.build_args:
                    self.used_args.add(name)
                value = self.opts.build_args.get(name, default)
                if value is not None:
                    out[name] = value
        return out

    def _order(self, target, meta: dict) -> tuple[list[int], dict[int, set[int]]]:
        """The stages the target needs, each after the ones it needs, and
        what each needs (its FROM stage, COPY --from and RUN --mount from= ones)."""
        from minictr.build.expand import expand
        by_name = {s.name: s.index for s in self.df.stages if s.name}
        order: list[int] = []
        needs: dict[int, set[int]] = {}
        visiting: set[int] = set()

        def stage_ref(ref: str, index: int, line: int, what: str) -> int | None:
            ref = ref.lower()
            if ref in by_name:
                return by_name[ref] if by_name[ref] != index else None
            if ref.isdigit():
                if int(ref) >= index:
                    raise DockerfileError(self.df.path, line, f"{what}={ref}: a stage can only use an earlier one")
                return int(ref)
            return None   # an image

        def need(index: int, line: int) -> None:
            if index in order:
                return
            if index in visiting:
                raise DockerfileError(self.df.path, line, "circular dependency between build stages")
            visiting.add(index)
            stage = self.df.stages[index]
            mine: set[int] = set()
            if stage.name and self._named(stage.name):   # a --build-context stands in for the stage
                visiting.discard(index)
                needs[index] = mine
                order.append(index)
                return
            base = expand(stage.base, meta, self.df.escape, self.df.path, stage.from_line).lower()
            if base in by_name and by_name[base] < index:
                mine.add(by_name[base])
                need(by_name[base], stage.from_line)
            for ins in stage.instructions:
                what = "COPY --from" if ins.keyword in ("COPY", "ADD") else "RUN --mount from"
                for source in sources_read(ins):
                    dep = stage_ref(source, index, ins.line, what)
                    if dep is not None:
                        mine.add(dep)
                        need(dep, ins.line)
            visiting.discard(index)
            needs[index] = mine
            order.append(index)
        need(target.index, target.from_line)
        return order, needs

    # -- one stage -------------------------------------------------------------

    def _build_stage(self, stage, meta: dict) -> ImageState:
        from minictr.build.expand import expand
        where = (self.df.path, stage.from_line)
        named = self._named(stage.name) if stage.name else None
        if named:   # BuildKit: a named context of a stage's name replaces the whole stage
            return self._named_stage(named, where)
        base = expand(stage.base, meta, self.df.escape, *where)
        if stage.platform:
            from minictr.oci import platform
            wanted = expand(stage.platform, meta, self.df.escape, *where)
            try:
                ok = platform.parse(wanted) == platform.host()
            except ValueError:
                ok = False
            if not ok:
                raise DockerfileError(*where, f"FROM --platform={wanted}: minictr builds for this host only "
                                              f"({platform.host()})")
        label = stage.name or f"stage-{stage.index}"
        if len(self.df.stages) == 1:
            label = ""
        total = len(stage.instructions) + 1
        vertex = self.progress.begin(f"[{label + ' ' if label else ''}1/{total}] FROM {base}")
        try:
            state = self._base(base, stage)
        except DockerfileError as e:
            vertex.error(str(e))
            raise
        except MinictrError as e:   # a pull that failed
            vertex.error(str(e))
            raise DockerfileError(*where, f"FROM {base}: {e}") from None
        vertex.done()
        # the stage's own state object: a RUN stores it in the store for its
        # container and forgets it after, which must not touch a sibling's
        state = ImageState(state.doc, list(state.layers), state.key, state.image_id)
        ctx = _Stage(stage, label, state, {})
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            config = {k: v for k, v in state.config.items() if k != "OnBuild"}
            ctx.state = state.with_config(config, "ONBUILD cleared")
            from minictr.build.dockerfile import parse_instruction
            for text in triggers:
                trigger = parse_instruction(text, self.df.path, stage.from_line, self.df.escape)
                self._step(ctx, trigger, f"ONBUILD {text.splitlines()[0]}")
        for i, ins in enumerate(stage.instructions, start=2):
            self._step(ctx, ins, f"[{label + ' ' if label else ''}{i}/{total}] {ins.original.strip()}")
        return ctx.state

    def _base(self, base: str, stage) -> ImageState:
        if base.lower() == "scratch":
            return ImageState.scratch()
        by_name = {s.name: s.index for s in self.df.stages if s.name}
        if base.lower() in by_name and by_name[base.lower()] < stage.index:
            return self.results[by_name[base.lower()]]
        named = self._named(base)
        if named:
            return self._named_state(named, (self.df.path, stage.from_line))
        image = self.store.records.find(base)
        if image is None:
            if self.opts.pull is None:
                raise DockerfileError(self.df.path, stage.from_line, f"FROM {base}: no such image")
            self.opts.pull(base)
            image = self.store.records.lookup(base)
        return ImageState.of_image(self.store, image)

    # -- one step ----------------------------------------------------------------

    def _step(self, ctx: _Stage, ins, title: str) -> None:
        self.scheduler.check()   # another stage failed: stop here
        ctx.vertex = vertex = self.progress.begin(title)
        ctx.vertex_title = title
        where = (self.df.path, ins.line)
        try:
            handler = getattr(self, "_do_" + ins.keyword.lower(), None)
            if handler is not None:
                handler(ctx, ins, where)
            elif ins.keyword in CONFIG_ONLY:
                self._config_step(ctx, ins, where)
            elif ins.keyword == "FROM":
                raise DockerfileError(*where, "FROM inside a stage")   # the parser splits stages
            else:
                raise DockerfileError(*where, f"unknown instruction: {ins.keyword}")
        except RunFailed as e:
            vertex.error(f"process did not complete successfully: exit code: {e.code}")
            raise DockerfileError(*where, f"{ins.original.strip()}: did not complete successfully: "
                                          f"exit code: {e.code}") from None
        except DockerfileError as e:
            vertex.error(str(e))
            raise
        except MinictrError as e:   # the copy's, a pull's, the engine's: said at the instruction's line
            vertex.error(str(e))
            raise DockerfileError(*where, str(e)) from None

    def _env(self, ctx: _Stage) -> dict:
        """What $VARs expand to: the stage's ARGs under its ENV (ENV wins)."""
        return {**ctx.args, **ins_mod.env_of(ctx.state.config)}

    def _cached(self, ctx: _Stage, key: str, what: str):
        """The cache's entry for a step (None: build it), unless --no-cache
        (or --no-cache-filter naming this stage) says to build anyway.
        `what`: the step's description, the key's second half."""
        parent = ctx.state.key
        ctx.pending = (parent, what)
        narrate.key(ctx.vertex_title, parent, what, key)
        forced = ""
        if self.opts.no_cache:
            forced = "--no-cache"
        elif ctx.stage.name and ctx.stage.name in self.opts.no_cache_filter:
            forced = f"--no-cache-filter {ctx.stage.name}"
        hit = None if forced else layer_compression.cache_hit(self.store, self.cache, key, ctx.state,
                                                              self.compression)
        if hit is None:
            narrate.miss(self.cache, key, parent, what, forced, ctx.last_missed)
        else:
            narrate.hit(key, hit[1], None if hit[0] is NO_LAYER else hit[0])
        ctx.last_missed = hit is None
        return hit

    def _finish(self, ctx: _Stage, key: str, config: dict, created_by: str, layer, author=None,
                created: float | None = None) -> None:
        """The step's result as the stage's new state (and as a cache entry)."""
        parent, what = ctx.pending
        created = self.cache.put(key, layer, created_by, created, parent, what)
        state = ctx.state.step(key, config, self._rfc3339(created), created_by, layer, author)
        state.key = key
        ctx.state = state

    def _rfc3339(self, epoch: float) -> str:
        if self.opts.source_date_epoch is not None:
            epoch = self.opts.source_date_epoch
        secs = int(epoch)
        frac = int(round((epoch - secs) * 1e9))
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"

    def _clamp(self, nodes):
        """SOURCE_DATE_EPOCH: no file of a layer is newer than it (BuildKit's
        rewrite-timestamp), so the same build gives the same layer bytes."""
        if self.opts.source_date_epoch is None:
            yield from nodes
            return
        limit = self.opts.source_date_epoch * 1_000_000_000
        for node in nodes:
            if node.mtime_ns > limit:
                node.mtime_ns = limit
            yield node

    def _source_tree(self, source: str, where):
        """The tree a COPY reads: the context, or with --from a stage's (or an image's) files."""
        if not source:
            return contextlib.nullcontext((self.context, "context"))
        by_name = {s.name: s.index for s in self.df.stages if s.name}
        ref = source.lower()
        if ref in by_name or ref.isdigit():
            state = self.results.get(by_name.get(ref, int(ref) if ref.isdigit() else -1))
            if state is None:
                raise DockerfileError(*where, f"COPY --from={source}: no such stage")
        elif self._named(source):
            return self._named_tree(self._named(source), where)
        else:
            image = self.store.records.find(source)
            if image is None:
                if self.opts.pull is None:
                    raise DockerfileError(*where, f"COPY --from={source}: no such image or stage")
                self.opts.pull(source)
                image = self.store.records.lookup(source)
            state = ImageState.of_image(self.store, image)

        from minictr.build.tree import read_only_tree   # cffi's mount: only for COPY --from

        @contextlib.contextmanager
        def opened():
            with read_only_tree(self.store.snapshots, state.chain_ids, self.scratch_dir) as root:
                yield BuildContext(root, in_root=True), state.key
        return opened()
