"""What `build` does once its flags are parsed: check them, make the
BuildOptions, build, say the result. Free of click, as its flag table
is: a plain `build` comes here straight from the console script
(minictr.cli.entry)."""
from __future__ import annotations

import os
import sys
import threading

from minictr.build.options import BuildOptions
from minictr.build import named_contexts, progress_mode
from minictr.build.run import build_image
from minictr.cli.pulling import puller
from minictr.engine import options
from minictr.errors import MinictrError
from minictr.image.errors import ImageError
from minictr.oci import reference


def build(ctx, path, tags, dockerfile, build_args, target, no_cache, no_cache_filter, network, add_hosts, labels,
          build_contexts, secrets, quiet, progress, iidfile, outputs, compression, platform, pull_policy) -> None:
    """The keywords are the flag table's dests (minictr.cli.image.build_flags)."""
    if platform:
        from minictr.oci import platform as _platform
        try:
            wanted = _platform.parse(platform)
        except ValueError as e:
            raise MinictrError(f"--platform {platform}: {e}") from None
        if wanted != _platform.host():
            raise MinictrError(f"--platform {platform}: minictr builds for this host only ({_platform.host()}); "
                               "a RUN step for another platform would need an emulator")
    if network not in ("bridge", "default", "none", "host"):
        raise MinictrError(f"--network {network}: a build's RUN steps take bridge, none or host")
    args = {}
    for item in build_args:
        key, eq, value = item.partition("=")
        if not eq:
            if key not in os.environ:
                continue   # docker: an unset variable named alone is left out
            value = os.environ[key]
        args[key] = value
    mode = "quiet" if quiet else progress_mode.mode_for(progress, os.environ, ctx.stderr_is_tty)
    quiet = mode == "quiet"
    epoch_text = args.get("SOURCE_DATE_EPOCH", os.environ.get("SOURCE_DATE_EPOCH", ""))
    if epoch_text and not epoch_text.isdigit():
        raise MinictrError(f"SOURCE_DATE_EPOCH={epoch_text!r}: expected seconds since the epoch")
    opts = BuildOptions(
        context=path, dockerfile=dockerfile, tags=[_tag(t) for t in tags], build_args=args,
        target=target, no_cache=no_cache, no_cache_filter=[s.lower() for s in no_cache_filter],
        network="bridge" if network == "default" else network,
        add_hosts=[list(options.parse_add_host(h)) for h in add_hosts],
        labels=options.parse_labels(list(labels)), secrets=dict(_secret(s) for s in secrets),
        build_contexts=named_contexts.parse(list(build_contexts)),
        pull=puller(ctx, None, pull_policy), source_date_epoch=int(epoch_text) if epoch_text else None,
        compression=compression or "", progress=progress_mode.progress_for(mode, ctx.stderr))
    try:
        image_id = build_image(LazyEngine(ctx), opts, stdin=sys.stdin.buffer, outputs=list(outputs))
        if iidfile:
            with open(iidfile, "w") as f:
                f.write(image_id)
        if not quiet:
            export = opts.progress.begin("exporting to image")
            export.note(f"writing image {image_id} done")
            for tag in opts.tags:
                export.note(f"naming to {tag} done")
            export.done()
    finally:
        opts.progress.close()   # a tty display's last frame, before the error if there is one
    if quiet:
        ctx.out(image_id)


class LazyEngine:
    """The context's container engine, opened when a step first needs it
    (a RUN, a dead build's container to remove): a rebuild whose steps are
    all cached runs no container and so never pays the engine's imports.
    The image store is opened now; the engine shares its connection.
    Another thread (stages build at once) gets the engine's own store,
    with a connection of its own."""

    def __init__(self, ctx):
        self._ctx = ctx
        self._thread = threading.get_ident()
        self.root = ctx.images.root

    @property
    def images(self):
        if threading.get_ident() == self._thread:
            return self._ctx.images
        return self._ctx.engine.images

    def __getattr__(self, name: str):
        return getattr(self._ctx.engine, name)


def _tag(text: str) -> str:
    """-t's name, normalized (docker.io/library/...:latest) as a pull reads it."""
    try:
        return str(reference.parse(text))
    except reference.InvalidReference as e:
        raise ImageError(str(e)) from None


def _secret(text: str) -> tuple[str, bytes]:
    """--secret id=ID[,src=FILE|,env=VAR][,type=file|env], as docker build reads it."""
    fields = dict(part.partition("=")[::2] for part in text.split(","))
    ident = fields.get("id", "")
    if not ident:
        raise MinictrError(f"--secret {text!r}: an id= is needed")
    src = fields.get("src") or fields.get("source")
    env = fields.get("env")
    if fields.get("type") == "env" and not env:
        env = src or ident
        src = None
    if src:
        try:
            with open(src, "rb") as f:
                return ident, f.read()
        except OSError as e:
            raise MinictrError(f"--secret {ident}: {src}: {e.strerror}") from None
    name = env or ident
    if name not in os.environ:
        raise MinictrError(f"--secret {ident}: no src= and no environment variable {name}")
    return ident, os.environ[name].encode()
