"""Stages that do not need each other build at once, as BuildKit's solver
runs independent vertices: a stage starts as soon as every stage it needs
(its FROM, COPY --from, RUN --mount from=) is built. A chain of stages
runs in the calling thread, one after the other, as before; only when two
or more are ready together do threads take them.

The first stage to fail stops the build: no new stage starts, the ones
running stop before their next step (a step under way ends first, and
cleans up after itself), and that first error is what the build raises."""
from __future__ import annotations

import os
import threading

from minictr.build.errors import BuildError

MAX_PARALLEL = max(2, min(4, os.cpu_count() or 2))


class Cancelled(BuildError):
    """Another stage failed: this one stopped between two steps."""

    def __init__(self):
        super().__init__("cancelled: another stage of the build failed")


class Scheduler:
    def __init__(self):
        self._stop = threading.Event()

    def check(self) -> None:
        """Called before each step: raise if another stage failed."""
        if self._stop.is_set():
            raise Cancelled()

    def build_all(self, order: list[int], needs: dict[int, set[int]], build, results: dict) -> None:
        """Build every stage of `order` (a topological order): `build(index)`
        gives its result, put in `results` once done."""
        pending, done = list(order), set()
        running: dict = {}
        failure: BaseException | None = None
        pool = None
        futures = None
        try:
            while pending or running:
                ready = [i for i in pending if needs.get(i, set()) <= done] if failure is None else []
                if len(ready) == 1 and not running:   # the common case: one stage after another, here
                    pending.remove(ready[0])
                    results[ready[0]] = build(ready[0])
                    done.add(ready[0])
                    continue
                for index in ready:
                    pending.remove(index)
                    if pool is None:
                        import concurrent.futures as futures   # ~7 ms (logging): only when stages run at once
                        pool = futures.ThreadPoolExecutor(MAX_PARALLEL, thread_name_prefix="build-stage")
                    running[pool.submit(build, index)] = index
                if not running:
                    break
                finished, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
                for future in finished:
                    index = running.pop(future)
                    try:
                        results[index] = future.result()
                        done.add(index)
                    except BaseException as e:   # the first real error is the build's
                        if failure is None or (isinstance(failure, Cancelled) and not isinstance(e, Cancelled)):
                            failure = e
                        self._stop.set()
        except BaseException:
            self._stop.set()
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        if failure is not None:
            raise failure
