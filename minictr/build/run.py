"""One build, end to end: the context (a directory; a tar file; `-`, stdin:
a tar, or a Dockerfile with no context), the Dockerfile (in the context,
another path, `-f -`), its .dockerignore rules, the build, then the
--output exports. What the CLI calls; a test can call it without click."""
from __future__ import annotations

import os
import shutil

from minictr.build.builder import Builder
from minictr.build.context import BuildContext
from minictr.build.errors import BuildError
from minictr.build.options import BuildOptions
from minictr.build.progress import Progress


def build_image(engine, opts: BuildOptions, stdin=None, outputs: list[str] = ()) -> str:
    """The built image's ID. `stdin`: a binary stream for `-` (the context
    or `-f -`); `outputs`: --output values, checked before anything is built."""
    from minictr.build import leftovers, output
    exports = [output.parse(o) for o in outputs]
    output.apply_compression(exports, opts)
    text = None
    if opts.dockerfile == "-":
        text = _decode(stdin.read() if stdin is not None else b"", "the Dockerfile on stdin")
        opts.dockerfile = ""
    # the build's own scratch dir (build/leftovers.py): a killed build's is swept by the next
    scratch = leftovers.scratch_dir(engine.root, leftovers.owner_tag())
    try:
        if opts.context == "-" or os.path.isfile(opts.context):
            if opts.context == "-":
                data = stdin.read() if stdin is not None and text is None else b""
            else:
                with open(opts.context, "rb") as f:
                    data = f.read()
            unpacked = os.path.join(scratch, "context")
            from minictr.build import context_tar   # cp's extractor (ctypes, tarfile): a tar context only
            from_stdin = context_tar.unpack(data, unpacked) if data else None
            text = from_stdin if from_stdin is not None else text
            opts.context = unpacked if from_stdin is None else _empty_dir(scratch)
        image_id = _build(engine, opts, text)
        if exports:
            import tempfile   # random & co.: for --output only
        for export in exports:
            with tempfile.TemporaryDirectory(dir=_empty_dir(scratch, "export-")) as tmp:
                output.write(engine.images, image_id, export.kind, export.dest, tmp)
        return image_id
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _empty_dir(scratch: str, prefix: str = "empty-") -> str:
    import tempfile   # random & co.: for a tar context or --output only
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=scratch)


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BuildError(f"{what}: not UTF-8 text (byte {e.start})") from None


def _build(engine, opts: BuildOptions, dockerfile_text: str | None) -> str:
    from minictr.build import dockerfile, dockerignore
    if opts.progress is None:
        opts.progress = Progress(quiet=True)
    context = opts.context
    if not os.path.isdir(context):
        raise BuildError(f"unable to prepare context: path {context!r} not found or not a directory")
    path = opts.dockerfile or os.path.join(context, "Dockerfile")
    if dockerfile_text is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise BuildError(f"failed to read dockerfile: open {path}: no such file or directory") from None
        except OSError as e:
            raise BuildError(f"failed to read dockerfile: {path}: {e.strerror}") from None
        dockerfile_text = _decode(data, path)
        shown = os.path.relpath(path, context) if _inside(path, context) else path
    else:
        shown = "Dockerfile"
    parsed = dockerfile.parse(dockerfile_text, shown)
    rel = os.path.relpath(path, context) if _inside(path, context) else os.path.abspath(path)
    ignore = dockerignore.rules_for(context, rel if dockerfile_text is None or opts.dockerfile else None)
    return Builder(engine, parsed, opts, BuildContext(context, ignore)).build()


def _inside(path: str, root: str) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real.startswith(top + os.sep)
