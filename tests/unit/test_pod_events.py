"""The container events two snapshots of pod states imply (pods/events.py)."""
from minictr.pods.events import CREATED, DELETED, STARTED, STOPPED, changes


def test_each_transition_is_one_event():
    box = ("SANDBOX_READY", "s")
    assert changes({}, {"s": box}) == [("s", CREATED, "s"), ("s", STARTED, "s")]
    before = {"s": box, "c": ("CONTAINER_CREATED", "s")}
    assert changes(before, {**before, "c": ("CONTAINER_RUNNING", "s")}) == [("c", STARTED, "s")]
    running = {"s": box, "c": ("CONTAINER_RUNNING", "s")}
    assert changes(running, {**running, "c": ("CONTAINER_EXITED", "s")}) == [("c", STOPPED, "s")]
    assert changes(running, {"s": box}) == [("c", STOPPED, "s"), ("c", DELETED, "s")]
    assert changes({**running, "c": ("CONTAINER_EXITED", "s")}, {"s": box}) == [("c", DELETED, "s")]
    assert changes(running, running) == []


def test_a_container_that_lived_between_two_looks_gets_all_its_events():
    assert changes({}, {"c": ("CONTAINER_EXITED", "s")}) == [("c", CREATED, "s"), ("c", STARTED, "s"),
                                                            ("c", STOPPED, "s")]
    assert changes({"c": ("CONTAINER_CREATED", "s")}, {"c": ("CONTAINER_EXITED", "s")}) == [
        ("c", STARTED, "s"), ("c", STOPPED, "s")]
