"""The steps that change the image's config (ENV, LABEL, CMD, ... and ARG's
scope), and WORKDIR, which BuildKit also makes a directory for: the
Builder's, mixed in (build/builder.py)."""
from __future__ import annotations

import json
import stat
import time

from minictr.build import copy_step, instructions as ins_mod
from minictr.build.cache import NO_LAYER
from minictr.build.errors import DockerfileError
from minictr.build.state import chain_key
from minictr.engine.diff import LowerView


class ConfigSteps:
    # -- ARG -------------------------------------------------------------------

    def _arg_pairs(self, ins, env: dict) -> list[tuple[str, str | None]]:
        """(name, default or None) of each name an ARG declares, docker's quoting."""
        from minictr.build.expand import key_values
        return key_values(ins.args, env, "ARG", self.df.escape, self.df.path, ins.line)

    def _words(self, ctx, ins, where) -> list[str]:
        """COPY/ADD/VOLUME/EXPOSE's words as docker takes them: split on
        whitespace first, then each one expanded on its own."""
        from minictr.build.dockerfile import split_args
        from minictr.build.expand import expand
        env = self._env(ctx)
        return [expand(w, env, self.df.escape, *where) for w in split_args(ins.args.strip())]

    def _do_arg(self, ctx, ins, where) -> None:
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
        what = "ARG " + " ".join(n for n, _ in self._arg_pairs(ins, self._env(ctx)))
        key = chain_key(ctx.state.key, what)
        hit = self._cached(ctx, key, what)
        self._finish(ctx, key, config, created_by, None, created=hit[1] if hit else None)
        ctx.vertex.cached() if hit else ctx.vertex.done()

    # -- config-only steps ---------------------------------------------------

    def _config_step(self, ctx, ins, where) -> None:
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
            ctx.vertex.done()
            return
        what = created_by + "\n" + json.dumps(config, sort_keys=True)
        key = chain_key(ctx.state.key, what)
        hit = self._cached(ctx, key, what)
        self._finish(ctx, key, config, created_by, None, author, hit[1] if hit else None)
        ctx.vertex.cached() if hit else ctx.vertex.done()

    # -- WORKDIR ---------------------------------------------------------------------

    def _do_workdir(self, ctx, ins, where) -> None:
        """The config's WorkingDir, and as BuildKit a layer that makes the
        directory (and its parents) when the image lacks it."""
        from minictr.build.expand import expand
        path = expand(ins.args.strip(), self._env(ctx), self.df.escape, *where)
        if not path:
            raise DockerfileError(*where, "WORKDIR requires an argument")
        config = {k: v for k, v in ins_mod.workdir(ctx.state.config, path).items() if v is not None}
        created_by = f"WORKDIR {config['WorkingDir']}"
        what = created_by + "\n" + json.dumps(config, sort_keys=True)
        key = chain_key(ctx.state.key, what)
        hit = self._cached(ctx, key, what)
        if hit:
            self._finish(ctx, key, config, created_by, None if hit[0] is NO_LAYER else hit[0], created=hit[1])
            ctx.vertex.cached()
            return
        lower = LowerView(self.store.snapshots.lowerdirs(ctx.state.chain_ids))
        existing = lower.lstat(config["WorkingDir"])
        layer = None
        if config["WorkingDir"] != "/" and existing is None:
            entries = copy_step.with_parents([copy_step.Entry(config["WorkingDir"], None, None)], lower)
            from minictr.image.layer_writer import LayerWriter   # a cache miss only
            from minictr.image.tar_writer import write_tar
            parent = ctx.state.layers[-1].chain_id if ctx.state.layers else None
            with LayerWriter(self.store, parent, what="WORKDIR layer", compression=self.compression) as writer:
                write_tar(self._clamp(copy_step.nodes(entries, None, None, time.time_ns())), writer)
                writer.finish()
                layer = writer.commit()
        elif existing is not None and not stat.S_ISDIR(existing.st_mode):
            raise DockerfileError(*where, f"WORKDIR {config['WorkingDir']}: not a directory in the image")
        self._finish(ctx, key, config, created_by, layer)
        ctx.vertex.done()


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
