"""The builder: a parsed Dockerfile and a context become an image.

Stages are built in the order the target needs them (the ones it does
not need are skipped); each instruction is one step on an in-memory
ImageState. Config-only steps change the config and add an empty_layer
history entry; RUN runs in a container through the engine; COPY and ADD
write their files straight into a layer. Every step has a cache key (its
parent's key and what it is, after substitution, with the checksums of
what it copies) and a cache entry once done, so an unchanged rebuild runs
no container and writes no layer, and gives the same image ID."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import time

from minictr.build import copy_step, instructions as ins_mod, leftovers, remote as remote_mod, run_mounts, run_step
from minictr.build.cache import NO_LAYER, BuildCache
from minictr.build.context import BuildContext
from minictr.build.errors import BuildError, DockerfileError
from minictr.build.options import BuildOptions
from minictr.build.state import ImageState, chain_key
from minictr.build.tree import read_only_tree
from minictr.engine.diff import LowerView
from minictr.errors import MinictrError
from minictr.image.layer_writer import LayerWriter
from minictr.image.tar_writer import write_tar
from minictr.state.locks import gc_lock

CONFIG_ONLY = {"ENV", "LABEL", "MAINTAINER", "WORKDIR", "USER", "EXPOSE", "VOLUME", "STOPSIGNAL", "CMD",
               "ENTRYPOINT", "SHELL", "HEALTHCHECK", "ONBUILD"}


class _Stage:
    """A stage while it builds: its state and the ARGs in its scope."""

    def __init__(self, stage, label: str, state: ImageState, args: dict):
        self.stage, self.label, self.state, self.args = stage, label, state, args
        self.cmd_set = False    # a CMD of this stage's: an ENTRYPOINT after it keeps it


class Builder:
    def __init__(self, engine, dockerfile, opts: BuildOptions, context: BuildContext):
        self.engine = engine
        self.store = engine.images
        self.df = dockerfile
        self.opts = opts
        self.context = context
        self.cache = BuildCache(self.store)
        self.progress = opts.progress
        self.results: dict[int, ImageState] = {}
        self.used_args: set[str] = set()
        self.owner = leftovers.owner_tag()
        self.scratch_dir = leftovers.scratch_dir(self.store.root, self.owner)

    # -- the whole build ---------------------------------------------------------

    def build(self) -> str:
        """Builds the target; its image ID (tagged as asked)."""
        target = self._target()
        meta = self._meta_args()
        leftovers.sweep(self.engine)   # what builds killed earlier left
        try:
            return self._build(target, meta)
        finally:
            shutil.rmtree(self.scratch_dir, ignore_errors=True)

    def _build(self, target, meta: dict) -> str:
        with gc_lock(self.store.root, shared=True):
            for index in self._order(target, meta):
                self.results[index] = self._build_stage(self.df.stages[index], meta)
            final = self.results[target.index]
            if self.opts.labels:   # --label: on the image, not a step of its history
                config = ins_mod.copy_config(final.config)
                config["Labels"] = {**(config.get("Labels") or {}), **self.opts.labels}
                final = ImageState(dict(final.doc, config=config), final.layers,
                                   chain_key(final.key, json.dumps(self.opts.labels, sort_keys=True)))
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

    def _order(self, target, meta: dict) -> list[int]:
        """The stages the target needs, each after the ones it needs."""
        from minictr.build.expand import expand
        by_name = {s.name: s.index for s in self.df.stages if s.name}
        order: list[int] = []
        visiting: set[int] = set()

        def need(index: int, line: int) -> None:
            if index in order:
                return
            if index in visiting:
                raise DockerfileError(self.df.path, line, "circular dependency between build stages")
            visiting.add(index)
            stage = self.df.stages[index]
            base = expand(stage.base, meta, self.df.escape, self.df.path, stage.from_line).lower()
            if base in by_name and by_name[base] < index:
                need(by_name[base], stage.from_line)
            for ins in stage.instructions:
                source = _flag(ins, "from")
                if ins.keyword in ("COPY", "ADD") and source:
                    ref = source.lower()
                    if ref in by_name:
                        need(by_name[ref], ins.line)
                    elif ref.isdigit():
                        if int(ref) >= index:
                            raise DockerfileError(self.df.path, ins.line,
                                                  f"COPY --from={source}: a stage can only copy from an earlier one")
                        need(int(ref), ins.line)
            visiting.discard(index)
            order.append(index)
        need(target.index, target.from_line)
        return order

    # -- one stage -------------------------------------------------------------

    def _build_stage(self, stage, meta: dict) -> ImageState:
        from minictr.build.expand import expand
        where = (self.df.path, stage.from_line)
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
        self.progress.begin(f"[{label + ' ' if label else ''}1/{total}] FROM {base}")
        try:
            state = self._base(base, stage)
        except DockerfileError as e:
            self.progress.error(str(e))
            raise
        except MinictrError as e:   # a pull that failed
            self.progress.error(str(e))
            raise DockerfileError(*where, f"FROM {base}: {e}") from None
        self.progress.done()
        ctx = _Stage(stage, label, state, {})
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            config = ins_mod.copy_config(state.config)
            config["OnBuild"] = None
            ctx.state = ImageState(dict(state.doc, config={k: v for k, v in config.items() if v is not None}),
                                   state.layers, chain_key(state.key, "ONBUILD cleared"))
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
        image = self.store.records.find(base)
        if image is None:
            if self.opts.pull is None:
                raise DockerfileError(self.df.path, stage.from_line, f"FROM {base}: no such image")
            self.opts.pull(base)
            image = self.store.records.lookup(base)
        return ImageState.of_image(self.store, image)

    # -- one step ----------------------------------------------------------------

    def _step(self, ctx: _Stage, ins, title: str) -> None:
        self.progress.begin(title)
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
        except run_step.RunFailed as e:
            self.progress.error(f"process did not complete successfully: exit code: {e.code}")
            raise DockerfileError(*where, f"{ins.original.strip()}: did not complete successfully: "
                                          f"exit code: {e.code}") from None
        except DockerfileError as e:
            self.progress.error(str(e))
            raise
        except MinictrError as e:   # the copy's, a pull's, the engine's: said at the instruction's line
            self.progress.error(str(e))
            raise DockerfileError(*where, str(e)) from None

    def _env(self, ctx: _Stage) -> dict:
        """What $VARs expand to: the stage's ARGs under its ENV (ENV wins)."""
        return {**ctx.args, **ins_mod.env_of(ctx.state.config)}

    def _cached(self, ctx: _Stage, key: str):
        """The cache's entry for a step (None: build it), unless --no-cache
        (or --no-cache-filter naming this stage) says to build anyway."""
        if self.opts.no_cache or (ctx.stage.name and ctx.stage.name in self.opts.no_cache_filter):
            return None
        return self.cache.get(key)

    def _finish(self, ctx: _Stage, key: str, config: dict, created_by: str, layer, author=None,
                created: float | None = None) -> None:
        """The step's result as the stage's new state (and as a cache entry)."""
        created = self.cache.put(key, layer, created_by, created)
        state = ctx.state.step(key, config, self._rfc3339(created), created_by, layer, author)
        state.key = key
        ctx.state = state

    def _rfc3339(self, epoch: float) -> str:
        if self.opts.source_date_epoch is not None:
            epoch = self.opts.source_date_epoch
        secs = int(epoch)
        frac = int(round((epoch - secs) * 1e9))
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (f".{frac:09d}".rstrip("0") if frac else "") + "Z"

    # -- ARG -------------------------------------------------------------------

    def _arg_pairs(self, ins, env: dict) -> list[tuple[str, str | None]]:
        """(name, default or None) of each name an ARG declares, docker's quoting."""
        from minictr.build.expand import key_values
        return key_values(ins.args, env, "ARG", self.df.escape, self.df.path, ins.line)

    def _words(self, ctx: _Stage, ins, where) -> list[str]:
        """COPY/ADD/VOLUME/EXPOSE's words as docker takes them: split on
        whitespace first, then each one expanded on its own."""
        from minictr.build.dockerfile import split_args
        from minictr.build.expand import expand
        env = self._env(ctx)
        return [expand(w, env, self.df.escape, *where) for w in split_args(ins.args.strip())]

    def _do_arg(self, ctx: _Stage, ins, where) -> None:
        meta = self._meta_args()
        for name, default in self._arg_pairs(ins, self._env(ctx)):
            if name in self.opts.build_args:
                value = self.opts.build_args[name]
                self.used_args.add(name)
            elif default is None:
                value = meta.get(name, _PREDEFINED_ARGS.get(name))
            else:
                value = default
            if value is not None:
                ctx.args[name] = value
            elif name in ctx.args:
                del ctx.args[name]
        declared = [f"{n}={ctx.args[n]}" if n in ctx.args else n for n, _ in self._arg_pairs(ins, self._env(ctx))]
        created_by = "ARG " + " ".join(declared)   # BuildKit keeps an ARG in the history, as an empty layer
        config = ctx.state.config
        # the names only: a step that uses a value has it in its own key (RUN's
        # environment, an expanded ENV or COPY), so a changed value rebuilds
        # only from where it is used, as docker's cache does
        key = chain_key(ctx.state.key, "ARG " + " ".join(n for n, _ in self._arg_pairs(ins, self._env(ctx))))
        hit = self._cached(ctx, key)
        self._finish(ctx, key, config, created_by, None, created=hit[1] if hit else None)
        self.progress.cached() if hit else self.progress.done()

    # -- config-only steps ---------------------------------------------------

    def _config_step(self, ctx: _Stage, ins, where) -> None:
        from minictr.build.expand import expand, key_values
        config, env, kw = ctx.state.config, self._env(ctx), ins.keyword
        author = None
        shell = list(config.get("Shell") or ins_mod.DEFAULT_SHELL)
        if kw == "ENV":
            pairs = key_values(ins.args, env, kw, self.df.escape, *where)
            config = ins_mod.set_env(config, pairs)
            created_by = "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
        elif kw == "LABEL":
            pairs = key_values(ins.args, env, kw, self.df.escape, *where)
            config = ins_mod.copy_config(config)
            config["Labels"] = {**(config.get("Labels") or {}), **dict(pairs)}
            created_by = "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
        elif kw == "MAINTAINER":
            author = ins.args.strip()   # docker does not expand MAINTAINER
            created_by = f"MAINTAINER {author}"
        elif kw == "WORKDIR":
            config = ins_mod.workdir(config, expand(ins.args.strip(), env, self.df.escape, *where))
            created_by = f"WORKDIR {config['WorkingDir']}"
        elif kw == "USER":
            user = expand(ins.args.strip(), env, self.df.escape, *where)
            if not user:
                raise DockerfileError(*where, "USER requires an argument")
            config = ins_mod.copy_config(config)
            config["User"] = user
            created_by = f"USER {user}"
        elif kw == "EXPOSE":
            ports = self._words(ctx, ins, where)
            config = ins_mod.expose(config, ports, where)
            created_by = "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in sorted(config["ExposedPorts"])) + "]"
        elif kw == "VOLUME":
            paths = list(ins.json_args) if ins.json_args is not None else self._words(ctx, ins, where)
            config = ins_mod.volumes(config, paths, where)
            created_by = "VOLUME " + json.dumps(paths)
        elif kw == "STOPSIGNAL":
            config = ins_mod.copy_config(config)
            config["StopSignal"] = expand(ins.args.strip(), env, self.df.escape, *where)
            created_by = f"STOPSIGNAL {config['StopSignal']}"
        elif kw in ("CMD", "ENTRYPOINT"):
            argv = ins_mod.command(ins, shell)
            config = ins_mod.copy_config(config)
            config["Cmd" if kw == "CMD" else "Entrypoint"] = argv
            if kw == "ENTRYPOINT" and not ctx.cmd_set:
                config.pop("Cmd", None)   # an ENTRYPOINT resets the base image's CMD, as docker
            created_by = f"{kw} {_go_quoted(argv)}"
        elif kw == "SHELL":
            if ins.json_args is None or not ins.json_args:
                raise DockerfileError(*where, "SHELL requires the arguments to be in JSON form")
            config = ins_mod.copy_config(config)
            config["Shell"] = list(ins.json_args)
            created_by = f"SHELL {_go_quoted(list(ins.json_args))}"
        elif kw == "HEALTHCHECK":
            config = ins_mod.healthcheck(config, ins, dict(ins.flags), shell, where)
            created_by = f"HEALTHCHECK &{{{config['Healthcheck']['Test']}}}"
        elif kw == "ONBUILD":
            from minictr.build.dockerfile import onbuild_trigger
            inner = onbuild_trigger(ins).strip()
            word = inner.split(None, 1)[0].upper() if inner else ""
            if word in ("ONBUILD", "FROM", "MAINTAINER") or not word:
                raise DockerfileError(*where, f"ONBUILD: {word or 'an instruction'} isn't allowed as an ONBUILD trigger")
            config = ins_mod.copy_config(config)
            config["OnBuild"] = list(config.get("OnBuild") or []) + [inner]
            created_by = f"ONBUILD {inner}"
        else:   # pragma: no cover - CONFIG_ONLY lists these
            raise DockerfileError(*where, f"unknown instruction: {kw}")
        if kw == "CMD":
            ctx.cmd_set = True
        config = {k: v for k, v in config.items() if v is not None}
        if kw == "ONBUILD":   # BuildKit keeps the trigger in the config, with no history entry
            ctx.state = ctx.state.with_config(config, created_by)
            self.progress.done()
            return
        key = chain_key(ctx.state.key, created_by + "\n" + json.dumps(config, sort_keys=True))
        hit = self._cached(ctx, key)
        self._finish(ctx, key, config, created_by, None, author, hit[1] if hit else None)
        self.progress.cached() if hit else self.progress.done()

    # -- WORKDIR ---------------------------------------------------------------------

    def _do_workdir(self, ctx: _Stage, ins, where) -> None:
        """The config's WorkingDir, and as BuildKit a layer that makes the
        directory (and its parents) when the image lacks it."""
        from minictr.build.expand import expand
        path = expand(ins.args.strip(), self._env(ctx), self.df.escape, *where)
        if not path:
            raise DockerfileError(*where, "WORKDIR requires an argument")
        config = {k: v for k, v in ins_mod.workdir(ctx.state.config, path).items() if v is not None}
        created_by = f"WORKDIR {config['WorkingDir']}"
        key = chain_key(ctx.state.key, created_by + "\n" + json.dumps(config, sort_keys=True))
        hit = self._cached(ctx, key)
        if hit:
            self._finish(ctx, key, config, created_by, None if hit[0] is NO_LAYER else hit[0], created=hit[1])
            self.progress.cached()
            return
        lower = LowerView(self.store.snapshots.lowerdirs(ctx.state.chain_ids))
        existing = lower.lstat(config["WorkingDir"])
        layer = None
        if config["WorkingDir"] != "/" and existing is None:
            entries = copy_step.with_parents([copy_step.Entry(config["WorkingDir"], None, None)], lower)
            parent = ctx.state.layers[-1].chain_id if ctx.state.layers else None
            with LayerWriter(self.store, parent, what="WORKDIR layer") as writer:
                write_tar(self._clamp(copy_step.nodes(entries, None, None, time.time_ns())), writer)
                writer.finish()
                layer = writer.commit()
        elif existing is not None and not stat.S_ISDIR(existing.st_mode):
            raise DockerfileError(*where, f"WORKDIR {config['WorkingDir']}: not a directory in the image")
        self._finish(ctx, key, config, created_by, layer)
        self.progress.done()

    # -- RUN ---------------------------------------------------------------------

    def _do_run(self, ctx: _Stage, ins, where) -> None:
        config = ctx.state.config
        shell = list(config.get("Shell") or ins_mod.DEFAULT_SHELL)
        mounts = [run_mounts.parse(value) for name, value in ins.flags if name == "mount"]
        flags = dict((n, v) for n, v in ins.flags if n != "mount")
        network = flags.pop("network", self.opts.network)
        if network not in ("bridge", "default", "none", "host"):
            raise DockerfileError(*where, f"RUN --network={network}: expected default, none or host")
        network = "bridge" if network == "default" else network
        if flags:
            raise DockerfileError(*where, f"RUN --{next(iter(flags))} is not supported yet")
        argv = _run_argv(ins, shell, where)
        env = ins_mod.env_of(config)
        build_args = {k: v for k, v in ctx.args.items() if k not in env}
        prefix = f"|{len(build_args)} " + " ".join(f"{k}={v}" for k, v in sorted(build_args.items())) + " " \
            if build_args else ""
        created_by = f"RUN {prefix}{' '.join(argv)} # buildkit"
        key = chain_key(ctx.state.key, json.dumps(["RUN", argv, sorted(build_args.items()), network,
                                                   [m.key() for m in mounts]]))
        hit = self._cached(ctx, key)
        if hit:
            layer = None if hit[0] is NO_LAYER else hit[0]
            self._finish(ctx, key, config, created_by, layer, created=hit[1])
            self.progress.cached()
            return
        temp = ctx.state.image_id is None
        image_id = ctx.state.materialize(self.store, lambda i: leftovers.hold(self.store, i, self.owner))
        prepared = run_mounts.Prepared(self.scratch_dir)
        try:
            with contextlib.ExitStack() as trees:
                def tree_of(source: str) -> str:
                    if not source:
                        return self.context.root
                    tree, _ = trees.enter_context(self._source_tree(source, where))
                    return tree.root
                run_mounts.prepare(mounts, prepared, os.path.join(self.store.root, "build", "cache-mounts"),
                                   self.opts.secrets, tree_of)
                layer = run_step.run(self.engine, image_id,
                                     ctx.state.layers[-1].chain_id if ctx.state.layers else None, argv,
                                     [f"{k}={v}" for k, v in sorted(build_args.items())] + prepared.env,
                                     config.get("WorkingDir", ""), config.get("User", ""), network,
                                     self.opts.add_hosts, self.progress.output, prepared.mounts, self._clamp,
                                     {leftovers.OWNER_LABEL: self.owner}, prepared.dirs)
        finally:
            prepared.close()
            if temp:   # the step's container is gone: so is the image it ran in (its layers stay)
                leftovers.release(self.store, image_id, self.owner)
                ctx.state.image_id = None
        self._finish(ctx, key, config, created_by, layer)
        self.progress.done()

    # -- COPY and ADD ------------------------------------------------------------

    def _do_copy(self, ctx: _Stage, ins, where, add: bool = False) -> None:
        flags = dict(ins.flags)
        source = flags.pop("from", "")
        chown = flags.pop("chown", "")
        chmod_text = flags.pop("chmod", "")
        flags.pop("link", None)   # the same files either way; --link only changes how BuildKit stacks them
        checksum = flags.pop("checksum", "") if add else ""
        if flags:
            raise DockerfileError(*where, f"{ins.keyword} --{next(iter(flags))} is not supported yet")
        words = list(ins.json_args) if ins.json_args is not None else self._words(ctx, ins, where)
        if len(words) < 2:
            raise DockerfileError(*where, f"{ins.keyword} requires at least two arguments")
        patterns, dest = words[:-1], words[-1]
        inline = [w for w in patterns if w.startswith("<<")] if ins.heredocs else []
        patterns = [p for p in patterns if p not in inline]
        chmod = None
        if chmod_text:
            try:
                chmod = int(chmod_text, 8)
            except ValueError:
                raise DockerfileError(*where, f"{ins.keyword} --chmod={chmod_text}: expected an octal mode") from None
        urls = [p for p in patterns if add and p.startswith(("http://", "https://"))]
        if checksum and len(urls) != 1:
            raise DockerfileError(*where, "ADD --checksum needs exactly one URL source")
        patterns = [p for p in patterns if p not in urls]
        remote = []
        try:
            for heredoc in ins.heredocs:   # COPY <<EOF /dest: a file of that name and content
                remote.append((heredoc.name, self._heredoc_file(ctx, heredoc, where)))
            for url in urls:
                path, _digest, file_name = remote_mod.fetch(url, self.scratch_dir, checksum)
                remote.append((file_name, path))
            self._copy_layer(ctx, ins, where, _Copy(words, patterns, dest, source, chown, chmod, chmod_text, add, remote))
        finally:
            for _name, path in remote:
                os.unlink(path)

    def _heredoc_file(self, ctx: _Stage, heredoc, where) -> str:
        import tempfile
        from minictr.build.expand import expand
        text = expand(heredoc.content, self._env(ctx), self.df.escape, *where) if heredoc.expand else heredoc.content
        os.makedirs(self.scratch_dir, mode=0o700, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="heredoc-", dir=self.scratch_dir)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def _copy_layer(self, ctx: _Stage, ins, where, req: "_Copy") -> None:
        config = ctx.state.config
        lower = LowerView(self.store.snapshots.lowerdirs(ctx.state.chain_ids))
        with self._source_tree(req.source, where) as (tree, tree_key):
            entries = copy_step.plan(tree, req.patterns, req.dest, config.get("WorkingDir", ""), lower,
                                     unpack_archives=req.add, remote=req.remote)
            owner = self._owner(ctx, req.chown, where) if req.chown else None
            sums = copy_step.checksum(entries, owner, req.chmod)
            created_by = f"{ins.keyword} {' '.join(req.words)} # buildkit"
            key = chain_key(ctx.state.key, json.dumps([ins.keyword, tree_key, sums, req.dest, req.chown,
                                                       req.chmod_text]))
            hit = self._cached(ctx, key)
            if hit:
                self._finish(ctx, key, config, created_by, None if hit[0] is NO_LAYER else hit[0], created=hit[1])
                self.progress.cached()
                return
            parent = ctx.state.layers[-1].chain_id if ctx.state.layers else None
            with LayerWriter(self.store, parent, what=f"{ins.keyword} layer") as writer:
                write_tar(self._clamp(copy_step.nodes(entries, owner, req.chmod, time.time_ns())), writer)
                writer.finish()
                layer = writer.commit()
        self._finish(ctx, key, config, created_by, layer)
        self.progress.done()

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

    def _do_add(self, ctx: _Stage, ins, where) -> None:
        self._do_copy(ctx, ins, where, add=True)

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
        else:
            image = self.store.records.find(source)
            if image is None:
                if self.opts.pull is None:
                    raise DockerfileError(*where, f"COPY --from={source}: no such image or stage")
                self.opts.pull(source)
                image = self.store.records.lookup(source)
            state = ImageState.of_image(self.store, image)

        @contextlib.contextmanager
        def opened():
            with read_only_tree(self.store.snapshots, state.chain_ids, self.scratch_dir) as root:
                yield BuildContext(root, in_root=True), state.key
        return opened()

    def _owner(self, ctx: _Stage, chown: str, where) -> tuple[int, int]:
        """--chown user[:group], names looked up in the image's /etc/passwd and /etc/group."""
        user, _, group = chown.partition(":")
        if user.isdigit() and (not group or group.isdigit()):
            return int(user), int(group or user)
        from minictr.engine import users
        from minictr.errors import MinictrError
        with read_only_tree(self.store.snapshots, ctx.state.chain_ids, self.scratch_dir) as root:
            try:
                uid, gid, _ = users.resolve(root, chown)
            except MinictrError as e:
                raise DockerfileError(*where, f"--chown={chown}: {e}") from None
        return uid, gid


def _run_argv(ins, shell: list[str], where) -> list[str]:
    """RUN's command. With heredocs, as BuildKit runs them: one heredoc that
    is the whole command is the script itself; else the shell gets the
    line and the heredocs' text, and reads them as a shell reads heredocs."""
    if not ins.heredocs:
        return ins_mod.command(ins, shell)
    if ins.json_args is not None:
        raise DockerfileError(*where, "RUN: a heredoc needs the shell form")
    only = ins.heredocs[0]
    text = ins.args.strip()
    if len(ins.heredocs) == 1 and text.lstrip("<-").strip("'\"") == only.name and text.startswith("<<"):
        if only.content.startswith("#!"):
            interpreter = only.content[2:].split("\n", 1)[0].split()
            return interpreter + ["-c", only.content.split("\n", 1)[1]] if interpreter else shell + [only.content]
        return shell + [only.content]
    body = "".join(f"{h.content}{h.name}\n" for h in ins.heredocs)
    return shell + [f"{ins.args}\n{body}"]


class _Copy:
    """One COPY or ADD, its arguments read."""

    def __init__(self, words, patterns, dest, source, chown, chmod, chmod_text, add, remote):
        self.words, self.patterns, self.dest, self.source = words, patterns, dest, source
        self.chown, self.chmod, self.chmod_text, self.add, self.remote = chown, chmod, chmod_text, add, remote


def _flag(ins, name: str) -> str:
    for key, value in ins.flags:
        if key == name:
            return value
    return ""


def _go_quoted(argv: list[str]) -> str:
    """BuildKit's history text for a list: Go's %q of a []string."""
    return "[" + " ".join(json.dumps(a) for a in argv) + "]"


def _platform_args() -> dict:
    """BuildKit's TARGETPLATFORM/BUILDPLATFORM family: this host (a build
    for another platform is refused before it starts)."""
    from minictr.oci import platform
    host = platform.host()
    out = {}
    for prefix in ("TARGET", "BUILD"):
        out[f"{prefix}PLATFORM"] = str(host)
        out[f"{prefix}OS"], out[f"{prefix}ARCH"], out[f"{prefix}VARIANT"] = host.os, host.architecture, host.variant
    return out


# the ARGs docker defines without an ARG line (usable once declared)
_PREDEFINED_ARGS = {**_platform_args(), **{name: None for name in ("SOURCE_DATE_EPOCH", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                             "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")}}
