"""`minictr build [OPTIONS] PATH`: a Dockerfile and its context to an
image, with docker build's flags and BuildKit's progress on stderr (plain,
or its tty display on a terminal)."""
import click


@click.command()
@click.argument("path")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag (name:tag)")
@click.option("-f", "--file", "dockerfile", default="", help="Name of the Dockerfile (default: PATH/Dockerfile)")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables")
@click.option("--target", default="", help="Set the target build stage to build")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--no-cache-filter", multiple=True, help="Do not cache specified stages")
@click.option("--network", default="bridge", help="Set the networking mode for the RUN instructions")
@click.option("--add-host", "add_hosts", multiple=True, help="Add a custom host-to-IP mapping (host:ip)")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image")
@click.option("--build-context", "build_contexts", multiple=True,
              help="Additional build contexts: NAME=DIR or NAME=docker-image://REF")
@click.option("--secret", "secrets", multiple=True, help="Secret to expose to the build: id=mysecret[,src=/local/secret|env=VAR]")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID on success")
@click.option("--progress", type=click.Choice(["auto", "plain", "tty", "quiet"]), default="auto",
              help="Set type of progress output")
@click.option("--iidfile", default="", help="Write the image ID to the file")
@click.option("-o", "--output", "outputs", multiple=True,
              help="Output destination (type=docker|oci,dest=FILE; type=local,dest=DIR; DIR; "
                   "type=image,compression=zstd[,force-compression=true])")
@click.option("--compression", type=click.Choice(["gzip", "zstd"]), default=None,
              help="Compression of the image's layers (default gzip; zstd gives an OCI manifest)")
@click.option("--platform", default="", help="Set the target platform for the build (this host's only)")
@click.option("--pull", "pull_policy", type=click.Choice(["missing", "always", "never"]), default="missing",
              help="Pull the base images: missing ones (default), always, never")
@click.pass_obj
def build(ctx, path, tags, dockerfile, build_args, target, no_cache, no_cache_filter, network, add_hosts, labels,
          build_contexts, secrets, quiet, progress, iidfile, outputs, compression, platform, pull_policy) -> None:
    """Build an image from a Dockerfile."""
    import os

    from minictr.build import named_contexts
    from minictr.build.run import build_image
    from minictr.build.options import BuildOptions
    from minictr.build import progress_mode
    from minictr.cli.container.flags import puller
    from minictr.engine import options
    from minictr.errors import MinictrError
    from minictr.image.pull import parse_reference
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
        context=path, dockerfile=dockerfile, tags=[str(parse_reference(t)) for t in tags], build_args=args,
        target=target, no_cache=no_cache, no_cache_filter=[s.lower() for s in no_cache_filter],
        network="bridge" if network == "default" else network,
        add_hosts=[list(options.parse_add_host(h)) for h in add_hosts],
        labels=options.parse_labels(list(labels)), secrets=dict(_secret(s) for s in secrets),
        build_contexts=named_contexts.parse(list(build_contexts)),
        pull=puller(ctx, None, pull_policy), source_date_epoch=int(epoch_text) if epoch_text else None,
        compression=compression or "",
        progress=progress_mode.progress_for(mode, ctx.stderr))
    import sys
    try:
        image_id = build_image(ctx.engine, opts, stdin=sys.stdin.buffer, outputs=list(outputs))
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


def _secret(text: str) -> tuple[str, bytes]:
    """--secret id=ID[,src=FILE|,env=VAR][,type=file|env], as docker build reads it."""
    import os

    from minictr.errors import MinictrError
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
