"""The declared interfaces hold: every implementation has every method of
its protocol, with the protocol's parameters, so callers never need to ask
(no hasattr) which one they hold."""
import inspect

import pytest

from minictr.engine import interfaces, runtimes
from minictr.runtime.cgroups import V1Manager, V2Manager
from minictr.runtime.cgroups.manager import CgroupManager


def _methods(protocol) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(fn) for name, fn in vars(protocol).items()
            if callable(fn) and not name.startswith("_")}


@pytest.mark.parametrize("protocol, implementation", [
    (CgroupManager, V1Manager), (CgroupManager, V2Manager),
    (interfaces.RuntimeDriver, runtimes.InProcess), (interfaces.RuntimeDriver, runtimes.External),
    (interfaces.Launch, runtimes.Launched),
])
def test_implementation_has_every_method_of_its_protocol(protocol, implementation):
    wanted = _methods(protocol)
    assert wanted, f"{protocol.__name__} declares no methods"
    for name, signature in wanted.items():
        method = getattr(implementation, name, None)
        assert callable(method), f"{implementation.__name__} lacks {name}()"
        got = inspect.signature(method)
        assert list(got.parameters) == list(signature.parameters), \
            f"{implementation.__name__}.{name}{got} differs from {protocol.__name__}.{name}{signature}"


def test_both_cgroup_drivers_name_themselves():
    assert {V1Manager.driver, V2Manager.driver} == {"v1", "v2"}


def test_the_in_process_driver_keeps_no_per_launch_state():
    """A create hands its shim back in the Launched record: the driver
    object itself holds only the runtime's state store, so threads can
    share it."""
    driver = runtimes.InProcess(store=object())
    assert set(vars(driver)) == {"store"}
