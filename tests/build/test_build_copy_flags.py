"""BuildKit's dockerfile 1.7+ COPY and context features, checked on the
files of built images (exported with -o DIR): COPY --parents (and the
/./ pivot), COPY/ADD --exclude (.dockerignore patterns, out of the cache
key too), --build-context (a directory or docker-image://, in FROM, COPY
--from, RUN --mount from= and in place of a stage), RUN --mount bind rw
(writes thrown away). docker 20.10 here cannot build these (the labs
syntax needs a pull), so the expected trees are the reference's examples."""
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


def files_under(root: Path, top: str) -> set[str]:
    """Every path below root/top, relative to root, directories with a trailing /."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root / top):
        rel = Path(dirpath).relative_to(root).as_posix()
        out |= {f"{rel}/{d}/" for d in dirnames} | {f"{rel}/{f}" for f in filenames}
    return out


def export(mc, ctx: Path, out: Path, *flags: str) -> Path:
    res = mc("build", "--network", "none", "--pull", "never", *flags, "-o", str(out), str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    return out


def step_cached(stderr: str, step: str) -> bool:
    lines = stderr.splitlines()
    number = next(line.split()[0] for line in lines if step in line)
    return f"{number} CACHED" in lines


def test_copy_parents_keeps_each_sources_directories_below_the_context_or_pivot(mc, context, tmp_path):
    ctx = context("FROM scratch AS files\nCOPY . /data/\n"
                  "FROM scratch\n"
                  "COPY ./x/a.txt ./y/a.txt /no_parents/\n"
                  "COPY --parents ./x/a.txt ./y/a.txt /parents/\n"
                  "COPY --parents ./x/./y/*.txt /pivot/\n"
                  "COPY --parents ./src/**/*.txt /glob/\n"
                  "COPY --parents src/x /whole/\n"
                  "COPY --from=files --parents /data/./x/a.txt /from/\n",
                  {"x/a.txt": "xa\n", "y/a.txt": "ya\n", "x/y/m.txt": "m\n", "x/y/n.md": "n\n",
                   "src/a.txt": "a\n", "src/x/b.txt": "b\n", "src/x/y/c.txt": "c\n", "src/x/y/d.md": "d\n"})
    (ctx / "src" / "x").chmod(0o750)
    out = export(mc, ctx, tmp_path / "out")
    assert files_under(out, "no_parents") == {"no_parents/a.txt"}
    assert (out / "no_parents/a.txt").read_text() == "ya\n"   # the last source wins, as BuildKit
    assert files_under(out, "parents") == {"parents/x/", "parents/x/a.txt", "parents/y/", "parents/y/a.txt"}
    assert files_under(out, "pivot") == {"pivot/y/", "pivot/y/m.txt"}
    assert files_under(out, "glob") == {"glob/src/", "glob/src/a.txt", "glob/src/x/", "glob/src/x/b.txt",
                                        "glob/src/x/y/", "glob/src/x/y/c.txt"}
    assert (out / "glob/src/x").stat().st_mode & 0o777 == 0o750, "a kept parent has its own mode"
    assert files_under(out, "whole") == {"whole/src/", "whole/src/x/", "whole/src/x/b.txt", "whole/src/x/y/",
                                         "whole/src/x/y/c.txt", "whole/src/x/y/d.md"}
    assert files_under(out, "from") == {"from/x/", "from/x/a.txt"}


def test_copy_parents_of_a_missing_file_fails_naming_the_line(mc, context):
    ctx = context("FROM scratch\nCOPY --parents ./nothing/here.txt /dst/\n")
    res = mc("build", "--network", "none", "--pull", "never", "-t", "parents:missing", str(ctx), timeout=120)
    assert res.returncode != 0 and "Dockerfile:2:" in res.stderr and "not found" in res.stderr, res.stderr
    assert mc("image", "inspect", "parents:missing").returncode != 0


def test_exclude_leaves_out_what_its_patterns_match_below_each_source(mc, context, tmp_path):
    ctx = context("FROM scratch\n"
                  "COPY --exclude=*.txt --exclude=*.md hom* /mydir/\n"
                  "COPY --exclude=*.1 dir /top_only/\n"
                  "COPY --exclude=**/*.1 dir /any_depth/\n"
                  "COPY --exclude=*.log --exclude=!important.log logs /logs/\n"
                  "ARG SKIP=*.md\n"
                  "ADD --exclude=$SKIP --exclude=dir --exclude=logs --exclude=Dockerfile . /all/\n"
                  "COPY --parents --exclude=dir/sub dir/ /parents/\n",
                  {"hom.txt": "", "home.md": "", "homework.py": "", "dir/a.1": "", "dir/a.2": "",
                   "dir/sub/a.1": "", "logs/x.log": "", "logs/important.log": "", "logs/readme": ""})
    out = export(mc, ctx, tmp_path / "out")
    assert files_under(out, "mydir") == {"mydir/homework.py"}
    assert files_under(out, "top_only") == {"top_only/a.2", "top_only/sub/", "top_only/sub/a.1"}
    assert files_under(out, "any_depth") == {"any_depth/a.2", "any_depth/sub/"}
    assert files_under(out, "logs") == {"logs/important.log", "logs/readme"}
    assert files_under(out, "all") == {"all/hom.txt", "all/homework.py"}
    assert files_under(out, "parents") == {"parents/dir/", "parents/dir/a.1", "parents/dir/a.2"}


def test_an_excluded_file_is_out_of_the_cache_key(mc, context):
    ctx = context("FROM busybox\nCOPY --exclude=*.log --exclude=cache app /app/\nRUN ls -R /app > /listing\n",
                  {"app/main.sh": "echo hi\n", "app/debug.log": "1\n", "app/cache/blob": "x\n"})
    first = mc("build", "--network", "none", "--pull", "never", "-q", "-t", "exclude:1", str(ctx),
               check=True, timeout=300).stdout.strip()
    (ctx / "app" / "debug.log").write_text("2\n")
    (ctx / "app" / "cache" / "blob").write_text("y\n")
    again = mc("build", "--network", "none", "--pull", "never", "-t", "exclude:2", str(ctx), timeout=300)
    assert again.returncode == 0, again.stderr
    assert step_cached(again.stderr, "COPY --exclude") and step_cached(again.stderr, "RUN ls")
    assert mc.inspect("exclude:2")["Id"] == first
    (ctx / "app" / "main.sh").write_text("echo changed\n")
    changed = mc("build", "--network", "none", "--pull", "never", "-t", "exclude:3", str(ctx), timeout=300)
    assert changed.returncode == 0 and not step_cached(changed.stderr, "COPY --exclude"), changed.stderr
    listing = mc("run", "--rm", "--network", "none", "exclude:3", "cat", "/listing", check=True).stdout
    assert "main.sh" in listing and "debug.log" not in listing and "cache" not in listing


@pytest.mark.parametrize("flag, message", [
    ("--exclude=!", 'illegal exclusion pattern: "!"'),
    ("--exclude=[", "syntax error in pattern"),
])
def test_a_bad_exclude_pattern_names_the_flag_and_line(mc, context, flag, message):
    ctx = context(f"FROM scratch\nCOPY {flag} . /x/\n", {"f": ""})
    res = mc("build", "--network", "none", "--pull", "never", "-t", "exclude:bad", str(ctx), timeout=120)
    assert res.returncode != 0 and "Dockerfile:2:" in res.stderr and message in res.stderr, res.stderr
    assert mc("image", "inspect", "exclude:bad").returncode != 0


def test_a_named_directory_context_serves_copy_from_run_mount_and_from(mc, context, tmp_path):
    assets = tmp_path / "assets"
    (assets / "img").mkdir(parents=True)
    (assets / "img" / "logo.svg").write_text("<svg/>\n")
    (assets / "notes.txt").write_text("notes\n")
    (assets / "private.key").write_text("never in an image\n")
    (assets / ".dockerignore").write_text("private.key\n")
    ctx = context("FROM assets AS raw\n"
                  "FROM busybox\n"
                  "COPY --from=assets img /static/\n"
                  "RUN --mount=type=bind,from=assets,target=/mnt cat /mnt/notes.txt > /notes-copy\n"
                  "COPY --from=raw / /raw/\n",
                  {"main.txt": "main context\n"})
    flags = ("--build-context", f"assets={assets}")
    out = export(mc, ctx, tmp_path / "out", *flags)
    assert (out / "static" / "logo.svg").read_text() == "<svg/>\n"
    assert (out / "notes-copy").read_text() == "notes\n"
    assert files_under(out, "raw") == {"raw/img/", "raw/img/logo.svg", "raw/notes.txt", "raw/.dockerignore"}


def test_a_named_contexts_content_is_in_the_cache_key(mc, context, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "v").write_text("1\n")
    ctx = context("FROM busybox\nCOPY --from=lib v /v\n"
                  "RUN --mount=type=bind,from=lib,target=/lib2 cat /lib2/v > /v2\n")
    flags = ("--network", "none", "--pull", "never", "--build-context", f"lib={lib}")
    first = mc("build", *flags, "-q", "-t", "named:1", str(ctx), check=True, timeout=300).stdout.strip()
    again = mc("build", *flags, "-t", "named:2", str(ctx), timeout=300)
    assert again.returncode == 0 and step_cached(again.stderr, "RUN --mount"), again.stderr
    assert mc.inspect("named:2")["Id"] == first
    (lib / "v").write_text("2\n")
    changed = mc("build", *flags, "-t", "named:3", str(ctx), timeout=300)
    assert changed.returncode == 0 and not step_cached(changed.stderr, "COPY --from=lib"), changed.stderr
    out = mc("run", "--rm", "--network", "none", "named:3", "cat", "/v", "/v2", check=True).stdout
    assert out == "2\n2\n"


def test_a_docker_image_context_replaces_the_image_a_from_names(mc, context, tmp_path):
    ctx = context("FROM alpine:latest AS base\nRUN echo from-base > /marker\n"
                  "FROM base\nCOPY --from=tools /bin/busybox /copied-busybox\n")
    res = mc("build", "--network", "none", "--pull", "never", "-t", "imgctx:1",
             "--build-context", "alpine=docker-image://busybox:latest",
             "--build-context", "tools=docker-image://busybox", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "imgctx:1", "sh", "-c", "cat /marker; cmp /bin/busybox "
             "/copied-busybox && echo same", check=True).stdout
    assert out == "from-base\nsame\n"


def test_a_named_context_replaces_a_stage_of_its_name(mc, context, tmp_path):
    prebuilt = tmp_path / "prebuilt"
    (prebuilt / "out").mkdir(parents=True)
    (prebuilt / "out" / "app").write_text("prebuilt app\n")
    ctx = context("FROM busybox AS build\nRUN exit 7\n"
                  "FROM busybox\nCOPY --from=build /out/app /app\n")
    res = mc("build", "--network", "none", "--pull", "never", "-t", "stagectx:1",
             "--build-context", f"build={prebuilt}", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    assert "exit 7" not in res.stderr
    assert mc("run", "--rm", "--network", "none", "stagectx:1", "cat", "/app", check=True).stdout == "prebuilt app\n"


@pytest.mark.parametrize("value, message", [
    ("nothing-here", "expected NAME=VALUE"),
    ("=dir", "expected NAME=VALUE"),
    ("Upper=.", "invalid context name"),
    ("x=/no/such/dir/anywhere", "no such directory"),
    ("x=ftp://host/path", "unknown scheme 'ftp'"),
    ("x=https://example.com/ctx.tar", "a directory or docker-image://REF"),
    ("x=docker-image://Bad:Ref", "invalid reference format"),
])
def test_a_bad_build_context_is_one_clear_error_and_no_image(mc, context, value, message):
    ctx = context("FROM busybox\nCOPY --from=x / /x/\n")
    res = mc("build", "--network", "none", "--pull", "never", "-t", "badctx:1", "--build-context", value,
             str(ctx), timeout=120)
    assert res.returncode != 0 and "--build-context" in res.stderr and message in res.stderr, res.stderr
    assert mc("image", "inspect", "badctx:1").returncode != 0


def test_a_file_as_build_context_is_refused(mc, context, tmp_path):
    f = tmp_path / "plain-file"
    f.write_text("x")
    ctx = context("FROM busybox\n")
    res = mc("build", "--network", "none", "--pull", "never", "--build-context", f"x={f}", str(ctx), timeout=120)
    assert res.returncode != 0 and "not a directory" in res.stderr, res.stderr


def test_an_rw_bind_mount_takes_writes_and_throws_them_away(mc, context):
    ctx = context("FROM busybox AS stage\nRUN mkdir /tree && echo stage > /tree/f\n"
                  "FROM busybox\n"
                  "RUN --mount=type=bind,source=data,target=/m,rw "
                  "sh -c 'echo changed > /m/f && echo new > /m/n && rm /m/gone && cat /m/f > /seen'\n"
                  "RUN --mount=type=bind,source=data,target=/m sh -c 'cat /m/f > /after; ls /m > /list'\n"
                  "RUN --mount=type=bind,from=stage,source=/tree,target=/t,rw sh -c 'echo w > /t/f && echo x > /t/y'\n"
                  "RUN --mount=type=bind,source=data/f,target=/one,rw sh -c 'echo more >> /one && cat /one > /one-seen'\n"
                  "COPY --from=stage /tree /stage-tree/\n",
                  {"data/f": "original\n", "data/gone": "still here\n"})
    res = mc("build", "--network", "none", "--pull", "never", "-t", "rwbind:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    out = mc("run", "--rm", "--network", "none", "rwbind:1", "sh", "-c",
             "cat /seen /after /list /one-seen; ls /stage-tree; cat /stage-tree/f; ls -A /m /t | wc -l",
             check=True).stdout
    # the rw step saw its writes; the next steps, the stage and the image see none of them
    assert out.split() == ["changed", "original", "f", "gone", "original", "more", "f", "stage", "3"], out
    assert (ctx / "data" / "f").read_text() == "original\n" and (ctx / "data" / "gone").exists()
    assert sorted(p.name for p in (ctx / "data").iterdir()) == ["f", "gone"], "the context is never written"


def test_a_docker_image_context_of_a_missing_image_names_the_line(mc, context):
    ctx = context("FROM busybox\nCOPY --from=x /etc/passwd /p\n")
    res = mc("build", "--network", "none", "--pull", "never", "-t", "badctx:2",
             "--build-context", "x=docker-image://no-such-image:1", str(ctx), timeout=120)
    assert res.returncode != 0 and "Dockerfile:2:" in res.stderr and "no-such-image:1" in res.stderr, res.stderr
    assert mc("image", "inspect", "badctx:2").returncode != 0
