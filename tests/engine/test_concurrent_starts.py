"""One engine, many threads: what a CRI server does when the kubelet
starts a pod's containers side by side. Each thread creates and starts its
own container through one shared Engine (one runtime driver, each thread
its own database connection); every container must run its own command,
with its own output, exit code and address, whatever the interleaving.

MINICTR_CONCURRENT_ROUNDS repeats the round (the issue asks for 20 in a
row; the suite runs 2 to stay quick)."""
import os
import threading

import pytest

pytestmark = pytest.mark.root

THREADS = 10
ROUNDS = int(os.environ.get("MINICTR_CONCURRENT_ROUNDS", "2"))


def _one(engine, spec_of, i: int, made: dict, errors: list, go: threading.Barrier, started) -> None:
    try:
        go.wait(timeout=30)
        rec = engine.create(spec_of(i), name=f"conc{i}")
        engine.start(rec)
        started.release()
        made[i] = engine.wait(rec), rec.id
    except BaseException as e:   # reported by the main thread
        errors.append((i, repr(e)))
        started.release()


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_ten_threads_create_and_start_ten_containers(mc, engine, round_, tmp_path):
    """The containers hold on until all ten run (a file in a shared bind
    mount), so the bridge ones are on the network together."""
    from minictr.engine.options import parse_volume
    from minictr.engine.spec import ContainerSpec

    def spec_of(i: int) -> ContainerSpec:
        network = "bridge" if i % 2 == 0 else "none"
        script = (f"echo out-{i}; echo err-{i} >&2; hostname; "
                  "ip -o -4 addr show eth0 2>/dev/null | awk '{print $4}'; "
                  "n=0; until [ -e /sync/go ] || [ $n -ge 600 ]; do sleep 0.05; n=$((n+1)); done; "
                  f"exit {i}")
        return ContainerSpec(image="busybox", network=network, cmd=["sh", "-c", script],
                             volumes=[parse_volume(f"{tmp_path}:/sync")])

    made: dict = {}
    errors: list = []
    go = threading.Barrier(THREADS)
    started = threading.Semaphore(0)
    threads = [threading.Thread(target=_one, args=(engine, spec_of, i, made, errors, go, started))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for _ in range(THREADS):
        assert started.acquire(timeout=120), "the starts did not finish in 120 s"
    (tmp_path / "go").touch()
    for t in threads:
        t.join(timeout=120)
    mc.leftovers += [f"conc{i}" for i in range(THREADS)]
    assert not any(t.is_alive() for t in threads), "a thread did not finish in 120 s"
    assert not errors, errors
    addresses = set()
    for i in range(THREADS):
        exit_code, container_id = made[i]
        assert exit_code == i, f"conc{i} exited {exit_code}"
        logs = mc("logs", f"conc{i}", check=True)
        lines = logs.stdout.splitlines()
        assert lines[:2] == [f"out-{i}", container_id[:12]]
        assert logs.stderr.splitlines() == [f"err-{i}"]
        if i % 2 == 0:
            assert len(lines) == 3 and lines[2].endswith("/24"), lines
            addresses.add(lines[2])
        else:
            assert len(lines) == 2, f"--network none has no eth0: {lines}"
        state = mc.inspect_container(f"conc{i}")["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == i and not state["Error"]
    mc("rm", "-f", *[f"conc{i}" for i in range(THREADS)], check=True, timeout=120)
    assert len(addresses) == THREADS // 2, f"bridge containers shared an address: {addresses}"
    assert not mc("ps", "-aq").stdout.strip()
