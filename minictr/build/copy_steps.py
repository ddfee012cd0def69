"""COPY and ADD as steps of the Builder (mixed in, build/builder.py): the
arguments, heredoc files, fetched URLs, --chown names, the cache key; what
lands where is build/copy_step.py's."""
from __future__ import annotations

import json
import os
import time

from minictr.build import copy_step, narrate
from minictr.build.cache import NO_LAYER
from minictr.build.errors import DockerfileError
from minictr.build.state import chain_key
from minictr.engine.diff import LowerView


class CopySteps:
    # -- COPY and ADD ------------------------------------------------------------

    def _do_copy(self, ctx, ins, where, add: bool = False) -> None:
        excludes = [value for name, value in ins.flags if name == "exclude"]   # repeatable
        flags = dict((name, value) for name, value in ins.flags if name != "exclude")
        parents = flags.pop("parents", "false").lower() in ("", "true")
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
        exclude = None
        if excludes:
            from minictr.build.dockerignore import IgnoreRules
            from minictr.build.expand import expand
            env = self._env(ctx)
            exclude = IgnoreRules.of_patterns([expand(e, env, self.df.escape, *where) for e in excludes])
        remote = []
        try:
            for heredoc in ins.heredocs:   # COPY <<EOF /dest: a file of that name and content
                remote.append((heredoc.name, self._heredoc_file(ctx, heredoc, where)))
            if urls:
                from minictr.build import remote as remote_mod   # urllib and the HTTP client: ADD of a URL only
            for url in urls:
                path, _digest, file_name = remote_mod.fetch(url, self.scratch_dir, checksum)
                remote.append((file_name, path))
            self._copy_layer(ctx, ins, where, _Copy(words, patterns, dest, source, chown, chmod, chmod_text, add, remote,
                                                        parents, exclude))
        finally:
            for _name, path in remote:
                os.unlink(path)

    def _heredoc_file(self, ctx, heredoc, where) -> str:
        import tempfile
        from minictr.build.expand import expand
        text = expand(heredoc.content, self._env(ctx), self.df.escape, *where) if heredoc.expand else heredoc.content
        os.makedirs(self.scratch_dir, mode=0o700, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="heredoc-", dir=self.scratch_dir)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def _copy_layer(self, ctx, ins, where, req: "_Copy") -> None:
        config = ctx.state.config
        lower = LowerView(self.store.snapshots.lowerdirs(ctx.state.chain_ids))
        with self._source_tree(req.source, where) as (tree, tree_key):
            entries = copy_step.plan(tree, req.patterns, req.dest, config.get("WorkingDir", ""), lower,
                                     unpack_archives=req.add, remote=req.remote, parents=req.parents,
                                     exclude=req.exclude)
            owner = self._owner(ctx, req.chown, where) if req.chown else None
            sums = copy_step.checksum(entries, owner, req.chmod, self.file_sums if tree is self.context else None)
            if tree is self.context:
                self.file_sums.save()
            created_by = f"{ins.keyword} {' '.join(req.words)} # buildkit"
            what = json.dumps([ins.keyword, tree_key, sums, req.dest, req.chown, req.chmod_text])
            key = chain_key(ctx.state.key, what)
            hit = self._cached(ctx, key, what)
            if hit:
                self._finish(ctx, key, config, created_by, None if hit[0] is NO_LAYER else hit[0], created=hit[1])
                ctx.vertex.cached()
                return
            from minictr.image.layer_writer import LayerWriter   # a cache miss only
            from minictr.image.tar_writer import write_tar
            parent = ctx.state.layers[-1].chain_id if ctx.state.layers else None
            with LayerWriter(self.store, parent, what=f"{ins.keyword} layer", compression=self.compression) as writer:
                write_tar(self._clamp(copy_step.nodes(entries, owner, req.chmod, time.time_ns())), writer)
                writer.finish()
                layer = writer.commit()
            narrate.copy_layer(len(entries), layer)
        self._finish(ctx, key, config, created_by, layer)
        ctx.vertex.done()

    def _do_add(self, ctx, ins, where) -> None:
        self._do_copy(ctx, ins, where, add=True)

    def _owner(self, ctx, chown: str, where) -> tuple[int, int]:
        """--chown user[:group], names looked up in the image's /etc/passwd and /etc/group."""
        user, _, group = chown.partition(":")
        if user.isdigit() and (not group or group.isdigit()):
            return int(user), int(group or user)
        from minictr.build.tree import read_only_tree   # cffi's mount: --chown by name only
        from minictr.engine import users
        from minictr.errors import MinictrError
        with read_only_tree(self.store.snapshots, ctx.state.chain_ids, self.scratch_dir) as root:
            try:
                uid, gid, _ = users.resolve(root, chown)
            except MinictrError as e:
                raise DockerfileError(*where, f"--chown={chown}: {e}") from None
        return uid, gid


class _Copy:
    """One COPY or ADD, its arguments read."""

    def __init__(self, words, patterns, dest, source, chown, chmod, chmod_text, add, remote, parents=False,
                 exclude=None):
        self.words, self.patterns, self.dest, self.source = words, patterns, dest, source
        self.chown, self.chmod, self.chmod_text, self.add, self.remote = chown, chmod, chmod_text, add, remote
        self.parents = parents              # COPY --parents
        self.exclude = exclude              # --exclude's dockerignore.IgnoreRules, or None
