"""Bounded waits for tests: poll a predicate until it holds or time is up."""
import time


def wait_for(pred, timeout=10.0, what="condition", interval=0.01):
    """pred()'s first truthy value; AssertionError naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
