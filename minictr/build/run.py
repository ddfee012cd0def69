"""One build, end to end: read the Dockerfile (from the context, another
path, or stdin's text), parse it, open the context with its .dockerignore
rules, and build. What the CLI calls; a test can call it without click."""
from __future__ import annotations

import os

from minictr.build.builder import Builder
from minictr.build.context import BuildContext
from minictr.build.errors import BuildError
from minictr.build.options import BuildOptions
from minictr.build.progress import Progress


def build_image(engine, opts: BuildOptions, dockerfile_text: str | None = None) -> str:
    """The built image's ID. `dockerfile_text`: the Dockerfile itself (`-f -`)."""
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
        try:
            dockerfile_text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BuildError(f"{path}: not UTF-8 text (byte {e.start})") from None
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
