"""The `minictr` console script. Two things happen here before click is
imported, both for the hot path of starting a container:

- for commands that start one, the cgroup warm-up begins (its stall
  overlaps the imports: see minictr.runtime.cgroups.warmup);
- a plain `run`, `create` or `build` (known flags only, no --help) is
  parsed from the flag table and run without click (minictr.cli.container.
  fast_argv; click's import is a third of such a start, or of a cached
  rebuild). Anything else, and every mistake on the line, goes to click,
  which says what is wrong.

At the end the interpreter's teardown is skipped (files are closed, only
stdio needs a flush), as minictr-runtime does."""
from __future__ import annotations

import os
import sys

_STARTS_CONTAINERS = {"run", "start", "restart", "exec"}
_WITHOUT_CLICK = {"run", "create", "build"}


def _global_options(argv: list[str]) -> tuple[str | None, bool, int] | None:
    """(--root, --explain, index of the command), as the click group reads
    them; None for any other global option (--help, --version)."""
    root, explain, i = None, False, 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg == "--root" and i + 1 < len(argv):
            root, i = argv[i + 1], i + 2
        elif arg.startswith("--root="):
            root, i = arg[len("--root="):], i + 1
        elif arg == "--explain":
            explain, i = True, i + 1
        else:
            return None
    if root is None:
        root = os.environ.get("MINICTR_ROOT") or None
    return root, explain, i


def _without_click(argv: list[str], options: tuple[str | None, bool, int]) -> int | None:
    """The exit status of a plain `run`/`create`/`build`; None to leave it to click."""
    root, explain, at = options
    from minictr.cli.container import fast_argv
    command = argv[at]
    if command == "build":
        from minictr.cli.image.build_flags import BUILD_FLAGS
        parsed = fast_argv.parse_one(argv[at + 1:], BUILD_FLAGS)
    else:
        from minictr.cli.container.flags import CREATE_FLAGS, RUN_FLAGS
        parsed = fast_argv.parse(argv[at + 1:], CREATE_FLAGS + RUN_FLAGS if command == "run" else CREATE_FLAGS)
    if parsed is None:
        return None
    from minictr.cli.context import Context
    if explain:
        from minictr import explain as explain_mod
        explain_mod.enable()
    ctx = Context(root)
    try:
        if command == "build":
            from minictr.cli.image import building
            path, kw = parsed
            building.build(ctx, path, **kw)
            return 0
        from minictr.cli.container import running
        image, cmd, kw = parsed
        if command == "run":
            running.run_container(ctx, image, cmd, kw)
        else:
            ctx.out(running.create_container(ctx, image, cmd, kw).id)
        return 0
    except SystemExit:
        raise
    except BaseException as e:
        from minictr.cli.failures import ENGINE_FAILURE_CODE, report
        code = report(e, ENGINE_FAILURE_CODE.get(command, 1))
        if code is None:
            raise
        return code


def entry() -> None:
    argv = sys.argv[1:]
    options = _global_options(argv)
    command = argv[options[2]] if options is not None and options[2] < len(argv) else None
    warm = command in _STARTS_CONTAINERS
    if warm:
        from minictr.runtime.cgroups import warmup
        warmup.start()
    try:
        code = _without_click(argv, options) if command in _WITHOUT_CLICK else None
        if code is None:
            from minictr.cli.main import main
            main()
            code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
    if warm:
        warmup.finish()   # a no-op when the container's create finished it already
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)
