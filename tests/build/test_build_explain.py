"""`minictr --explain build`: the trace says, step by step, what the cache
key is made of, whether it hit and why it missed, each RUN step's
container and how its overlay upper dir became a layer (the engine's own
kernel steps in between), and a COPY's files going straight into one."""
import re

import pytest

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM busybox
ARG V=1
COPY a.txt /a.txt
RUN echo $V > /v && rm /bin/zcat
ENV X=1
"""


def _explained(mc, ctx, *args):
    res = mc("--explain", "build", "--network", "none", *args, "-t", "explained:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stderr


def _lines(trace: str, what: str) -> list[str]:
    return [line for line in trace.splitlines() if re.match(rf"  \[pid \d+\] {what}", line)]


def test_a_first_build_narrates_keys_containers_and_layers(mc, context):
    ctx = context(DOCKERFILE, {"a.txt": "a\n"})
    trace = _explained(mc, ctx, "--no-cache")
    keys = _lines(trace, "cache key")
    assert len(keys) == 4, trace   # ARG, COPY, RUN, ENV: FROM has no key of its own
    run_key = [k for k in keys if "RUN echo $V" in k][0]
    assert "parent's key sha256:" in run_key and "build args it uses" in run_key and '["V", "1"]' in run_key
    copy_key = [k for k in keys if "COPY a.txt" in k][0]
    assert "checksum of the sources" in copy_key and "destination /a.txt" in copy_key
    assert len([m for m in _lines(trace, "cache miss") if "--no-cache" in m]) == 4, trace
    container = _lines(trace, "RUN container")
    assert len(container) == 1 and "network none" in container[0] and "overlay upper dir" in container[0]
    # the engine's own steps for that container follow in the same trace
    assert "mount overlay: rootfs" in trace and "unshare(CLONE_NEWPID)" in trace
    layer = _lines(trace, r"upper dir -> layer")
    assert len(layer) == 1, trace
    assert "1 added" in layer[0] and "1 deleted" in layer[0] and "whiteouts" in layer[0]
    assert "diff_id sha256:" in layer[0] and "snapshot sha256:" in layer[0]
    assert len(_lines(trace, r"files -> layer")) == 1


def test_a_rebuild_says_each_hit_and_why_a_step_missed(mc, context):
    ctx = context(DOCKERFILE, {"a.txt": "one\n"})
    _explained(mc, ctx)
    again = _explained(mc, ctx)
    assert len(_lines(again, "cache hit")) == 4 and not _lines(again, "cache miss"), again
    assert not _lines(again, "RUN container")

    (ctx / "a.txt").write_text("two\n")
    touched = _explained(mc, ctx)
    misses = _lines(touched, "cache miss")
    assert len(misses) == 3, touched   # COPY, and the two after it
    assert "checksum of the sources (names, modes, owners, contents) changed" in misses[0]
    assert all("the step before it was built anew" in m for m in misses[1:])

    arg = _explained(mc, ctx, "--build-arg", "V=2")
    misses = _lines(arg, "cache miss")
    assert len(misses) == 2, arg   # the RUN that uses V, and ENV after it; ARG and COPY hit
    assert "build args it uses changed" in misses[0] and '[["V", "2"]]' in misses[0]
