"""The click-free parse of `run`/`create` (minictr.cli.container.fast_argv)
must read every line exactly as click does, and hand to click every line
click would reject, so click's message is what the user sees."""
import click
import pytest

from minictr.cli.container import fast_argv
from minictr.cli.container.flags import CREATE_FLAGS, RUN_FLAGS
from minictr.cli.container.run import create, run

SAME = [
    ["busybox"],
    ["busybox", "true"],
    ["--rm", "busybox", "true"],
    ["--rm", "--network", "none", "busybox", "true"],
    ["--network=none", "--rm", "busybox"],
    ["--net", "host", "busybox"],
    ["-dit", "--name", "myapp", "busybox", "/bin/sh"],
    ["-it", "busybox", "sh", "-c", "echo hi"],
    ["-e", "A=1", "-eB=2", "--env", "C=3", "--env=D=4", "busybox", "env"],
    ["-p8080:80", "-p", "127.0.0.1:8081:81/udp", "--publish=9000:90", "-P", "busybox"],
    ["-h", "myhost", "-hother", "busybox", "hostname"],          # -h is --hostname here, last one wins
    ["-m", "64m", "--memory-swap", "-1", "--cpus", "0.5", "-c", "512", "--pids-limit=-1", "busybox"],
    ["--cpu-shares", "1_024", "busybox"],                            # int() as click reads it
    ["-u", "1000:1000", "-w", "/tmp", "--entrypoint", "", "busybox", "ls"],
    ["--restart", "on-failure:3", "--read-only", "--cap-add", "NET_ADMIN", "--cap-drop=ALL", "busybox"],
    ["--privileged", "-l", "a=b", "--label", "c=d", "--stop-signal", "SIGINT", "--stop-timeout", "3", "busybox"],
    ["--add-host", "db:10.0.0.2", "--dns", "1.1.1.1", "--init", "--log-opt", "max-size=1k", "busybox"],
    ["--runtime", "runc", "--platform", "linux/amd64", "--pull", "never", "busybox"],
    ["--pull=always", "busybox"],
    ["-v", "/tmp:/data:ro", "--volume=named:/v", "--env-file", "/dev/null", "busybox"],
    ["--", "busybox", "--rm"],
    ["-d", "--", "-weird-image-name"],
    ["-d", "busybox", "--rm", "-d", "--", "x"],                      # after the image: the command's
    ["-a", "stdout", "--attach", "stderr", "--detach-keys", "ctrl-a,b", "--no-sig-proxy", "busybox"],
    ["--no-sig-proxy", "--sig-proxy", "busybox"],
    ["-e", "-x", "busybox"],                                         # a value may start with a dash
    ["-", "cmd"],                                                    # "-" is a word, not an option
    ["-ti", "-e", "X", "-v/a:/b", "busybox"],
]

CLICK_SAYS_WHAT_IS_WRONG = [
    [],                                  # no image
    ["--rm"],                            # no image after the flags
    ["--bogus", "busybox"],
    ["-Z", "busybox"],
    ["-dZ", "busybox"],
    ["--rm=yes", "busybox"],
    ["--name"],                          # value missing
    ["-e"],
    ["-de"],
    ["-c", "many", "busybox"],
    ["--pids-limit", "1.5", "busybox"],
    ["--pull", "sometimes", "busybox"],
    ["--help"],
    ["--sig-proxy=1", "busybox"],
]


def click_params(command, args):
    with command.make_context(command.name, list(args)) as ctx:
        params = dict(ctx.params)
    return params.pop("image"), tuple(params.pop("command")), params


CREATE_SAME = [a for a in SAME if a[0] not in ("-dit", "-d", "-a", "--no-sig-proxy")]   # no run-only flags


def _ids(lines):
    return [" ".join(a) or "-" for a in lines]


@pytest.mark.parametrize("args", SAME, ids=_ids(SAME))
def test_run_parses_as_click_does(args):
    assert fast_argv.parse(args, CREATE_FLAGS + RUN_FLAGS) == click_params(run, args)


@pytest.mark.parametrize("args", CREATE_SAME, ids=_ids(CREATE_SAME))
def test_create_parses_as_click_does(args):
    assert fast_argv.parse(args, CREATE_FLAGS) == click_params(create, args)


def test_run_only_flags_are_not_create_flags():
    assert fast_argv.parse(["-d", "busybox"], CREATE_FLAGS) is None


@pytest.mark.parametrize("args", CLICK_SAYS_WHAT_IS_WRONG, ids=_ids(CLICK_SAYS_WHAT_IS_WRONG))
def test_leaves_to_click_what_click_rejects(args):
    assert fast_argv.parse(args, CREATE_FLAGS + RUN_FLAGS) is None
    with pytest.raises((click.UsageError, click.exceptions.Exit)):
        click_params(run, args)


# -- build: one PATH, options before and after it ---------------------------------

BUILD_SAME = [
    ["ctx"],
    ["-t", "a:1", "ctx"],
    ["ctx", "-t", "a", "--tag=b"],                                   # options after PATH too
    ["--no-cache", "--network", "none", "--build-arg", "BASE=busybox", "-f", "six.Dockerfile", "-t", "x:y", "ctx"],
    ["-qt", "x", "."],
    ["-", "-f-"],                                                    # "-" is the context on stdin
    ["--progress=plain", "--pull", "never", "-o", "type=local,dest=out", "--output", "dir", "."],
    ["--", "-odd-dir"],
    ["--label", "a=b", "--secret", "id=x", "--add-host", "h:1.2.3.4", "--iidfile", "f", "--platform", "linux/amd64",
     "--target", "t", "--no-cache-filter", "s", "."],
    ["-t", "-x", "."],                                               # a value may start with a dash
]

BUILD_CLICK_SAYS_WHAT_IS_WRONG = [
    [],
    ["a", "b"],
    ["--progress", "fancy", "."],
    ["--no-cache=1", "."],
    ["-t"],
    ["--bogus", "."],
    ["--help"],
]


def build_click_params(args):
    from minictr.cli.image.build import build
    with build.make_context(build.name, list(args)) as ctx:
        params = dict(ctx.params)
    return params.pop("path"), params


@pytest.mark.parametrize("args", BUILD_SAME, ids=_ids(BUILD_SAME))
def test_build_parses_as_click_does(args):
    from minictr.cli.image.build_flags import BUILD_FLAGS
    assert fast_argv.parse_one(args, BUILD_FLAGS) == build_click_params(args)


@pytest.mark.parametrize("args", BUILD_CLICK_SAYS_WHAT_IS_WRONG, ids=_ids(BUILD_CLICK_SAYS_WHAT_IS_WRONG))
def test_build_leaves_to_click_what_click_rejects(args):
    from minictr.cli.image.build_flags import BUILD_FLAGS
    assert fast_argv.parse_one(args, BUILD_FLAGS) is None
    with pytest.raises((click.UsageError, click.exceptions.Exit)):
        build_click_params(args)
