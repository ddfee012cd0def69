"""Independent stages build at once, as BuildKit's do: each stage starts
when the stages it needs are built; the first failure stops the rest
between steps and is the one the build reports, leaving nothing behind."""
import pytest

pytestmark = pytest.mark.root

# each stage records the kernel's uptime (one clock for every container)
# before and after its sleep; the final stage gathers both records
TWO_AT_ONCE = """\
FROM busybox AS left
RUN cut -d' ' -f1 /proc/uptime > /start && sleep 1 && cut -d' ' -f1 /proc/uptime > /end
FROM busybox AS right
RUN cut -d' ' -f1 /proc/uptime > /start && sleep 1 && cut -d' ' -f1 /proc/uptime > /end
FROM busybox AS unused
RUN echo never built
FROM busybox
COPY --from=left /start /left.start
COPY --from=left /end /left.end
COPY --from=right /start /right.start
COPY --from=right /end /right.end
CMD ["sh", "-c", "cat /left.start /left.end /right.start /right.end"]
"""


def test_independent_stages_run_at_the_same_time(mc, context):
    ctx = context(TWO_AT_ONCE)
    res = mc("build", "--no-cache", "--network", "none", "-t", "stages:1", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    assert "never built" not in res.stderr, "a stage the target does not need is skipped"
    times = [float(t) for t in mc("run", "--rm", "--network", "none", "stages:1", check=True).stdout.split()]
    left, right = (times[0], times[1]), (times[2], times[3])
    overlap = min(left[1], right[1]) - max(left[0], right[0])
    assert overlap > 0, f"the stages' RUN steps did not overlap: left {left}, right {right}"
    # both stages' steps show in the plain progress, each line naming its step
    assert "[left 2/2] RUN" in res.stderr and "[right 2/2] RUN" in res.stderr


FIRST_FAILS = """\
FROM busybox AS fails
RUN echo failing now; exit 7
FROM busybox AS slow
RUN sleep 1
RUN echo slow-second-step
FROM busybox
COPY --from=fails /etc/hostname /a
COPY --from=slow /etc/hostname /b
"""


def test_the_first_failing_stage_stops_the_others(mc, context):
    before = set(mc("images", "-q", "--no-trunc").stdout.split())
    ctx = context(FIRST_FAILS)
    res = mc("build", "--no-cache", "--network", "none", "-t", "stages:broken", str(ctx), timeout=300)
    assert res.returncode != 0
    assert "Dockerfile:2:" in res.stderr and "exit code: 7" in res.stderr, res.stderr
    assert "slow-second-step" not in res.stderr, "the other stage stops before its next step"
    assert "cancelled" not in res.stderr.splitlines()[-1], "the build reports the real failure"
    assert mc("images", "-q", "stages:broken").stdout.strip() == ""
    assert not mc("ps", "-aq").stdout.strip(), "no step container is left"
    assert set(mc("images", "-q", "--no-trunc").stdout.split()) == before, "no intermediate image is left"


def test_a_run_mount_from_a_stage_builds_that_stage_first(mc, context):
    ctx = context("FROM busybox AS data\nRUN echo from-data > /payload\n"
                  "FROM busybox\nRUN --mount=type=bind,from=data,target=/d cat /d/payload > /copied\n"
                  "CMD [\"cat\", \"/copied\"]\n")
    res = mc("build", "--network", "none", "-t", "stages:mount", str(ctx), timeout=300)
    assert res.returncode == 0, res.stderr
    assert mc("run", "--rm", "--network", "none", "stages:mount", check=True).stdout == "from-data\n"
