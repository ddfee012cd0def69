"""minictr's default seccomp profile against docker's own: the same probe
of refused and allowed system calls, under a private dockerd running its
stock runc (docker's real default profile, as dockerd resolves it) and
under minictr, for the default, added capabilities and unconfined. The
answers must be the same, call by call."""
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.engine_env import EngineEnv  # noqa: E402
from support.engines import IMAGE  # noqa: E402
from support.probe import parse  # noqa: E402

pytestmark = [pytest.mark.root, pytest.mark.engines]

PROBES = ["keyctl", "add_key", "unshare-user", "unshare-mount", "mount", "reboot", "clone-newns",
          "personality-bad", "getpid"]
OPTION_SETS = [(), ("--cap-add", "SYS_ADMIN"), ("--cap-add", "SYS_BOOT"), ("--security-opt", "seccomp=unconfined"),
               ("--privileged",)]


@pytest.fixture(scope="module")
def minictr(tmp_path_factory):
    env = EngineEnv(tmp_path_factory.mktemp("minictr"))
    env.load_busybox()
    yield env
    env.teardown()
    shutil.rmtree(env.workdir, ignore_errors=True)


@pytest.mark.parametrize("opts", OPTION_SETS, ids=lambda o: " ".join(o) or "default")
def test_the_default_profile_answers_as_dockers(docker, minictr, probe, opts):
    theirs = docker("run", "--rm", "--network", "none", "-v", f"{probe}:/probe:ro", *opts, IMAGE,
                    "/probe", *PROBES, timeout=60, check=False)
    ours = minictr("run", "--rm", "--network", "none", "-v", f"{probe}:/probe:ro", *opts, "busybox",
                   "/probe", *PROBES, timeout=60)
    assert ours.returncode == 0, ours.stderr
    if opts == ("--privileged",) and theirs.returncode != 0:
        # docker 20.10 asks runc for capabilities this host withholds (CAP_SYS_RESOURCE) and fails;
        # we grant what the engine holds: no filter, the kernel answers every call
        assert "unable to apply caps" in theirs.stderr, theirs.stderr
        got = parse(ours.stdout)
        assert got["add_key"] == "ENODEV" and got["unshare-user"] == "OK" and got["personality-bad"] == "OK", got
        return
    assert theirs.returncode == 0, theirs.stderr
    assert parse(ours.stdout) == parse(theirs.stdout), (opts, ours.stdout, theirs.stdout)
