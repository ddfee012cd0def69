"""RUN as a step of the Builder (mixed in, build/builder.py): its command,
its --mount and --network, its cache key; the container itself is
build/run_step.py's."""
from __future__ import annotations

import contextlib
import json
import os

from minictr.build import copy_step, instructions as ins_mod, leftovers, run_mounts
from minictr.build.cache import NO_LAYER
from minictr.build.errors import DockerfileError
from minictr.build.state import chain_key
from minictr.engine.diff import LowerView


class RunSteps:
    # -- RUN ---------------------------------------------------------------------

    def _do_run(self, ctx, ins, where) -> None:
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
        what = ["RUN", argv, sorted(build_args.items()), network, [m.key() for m in mounts]]
        binds = self._bind_sums(mounts, where)
        what = json.dumps(what + [binds] if binds else what)
        key = chain_key(ctx.state.key, what)
        hit = self._cached(ctx, key, what)
        if hit:
            layer = None if hit[0] is NO_LAYER else hit[0]
            self._finish(ctx, key, config, created_by, layer, created=hit[1])
            ctx.vertex.cached()
            return
        from minictr.build import run_step   # the engine's container path: not for a cached step
        temp = ctx.state.image_id is None
        step = str(next(self.step_numbers))   # this step's own lease on the image
        with self.materializing:   # two stages may store the same state at once
            image_id = ctx.state.materialize(self.store, lambda i: leftovers.hold(self.store, i, self.owner, step))
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
                                     self.opts.add_hosts, ctx.vertex.output, prepared.mounts, self._clamp,
                                     {leftovers.OWNER_LABEL: self.owner}, prepared.dirs, self.compression)
        finally:
            prepared.close()
            if temp:   # the step's container is gone: so is the image it ran in (its layers stay)
                leftovers.release(self.store, image_id, self.owner, step)
                ctx.state.image_id = None
        self._finish(ctx, key, config, created_by, layer)
        ctx.vertex.done()


    def _bind_sums(self, mounts, where) -> list[str]:
        """What each bind mount shows, for the cache key, as BuildKit keys a
        step on its mounts' content: a context's (the main one, a named
        directory) files checksummed as COPY's are; a stage's or an image's key."""
        sums = []
        for m in mounts:
            if m.type != "bind":
                continue
            with self._source_tree(m.from_, where) as (tree, tree_key):
                if not tree_key.startswith("context"):
                    sums.append(tree_key)
                    continue
                entries = copy_step.plan(tree, [m.source or "."], "/", "/", LowerView([]))
                sums.append(copy_step.checksum(entries, None, None))
        return sums


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
