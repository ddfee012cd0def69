"""RPC groups that are declared but not filled in yet: each group (a mixin
of the servicer) lists its RPCs in NOT_YET and answers them UNIMPLEMENTED
with a message saying so, which is also the code kubelet expects for an
optional RPC. Whoever fills in a group defines the method and drops its
name from the list."""
from __future__ import annotations

import grpc


class RpcGroup:
    """Base of the servicer's groups. NOT_YET: RPC names; WHY: the sentence
    that ends the UNIMPLEMENTED message."""
    NOT_YET: tuple[str, ...] = ()
    WHY = "it is not implemented yet"

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        for name in cls.__dict__.get("NOT_YET", ()):
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__}.{name} is implemented: take it off NOT_YET")
            setattr(cls, name, _unimplemented(name, cls.__dict__.get("WHY", cls.WHY)))


def _unimplemented(name: str, why: str):
    def rpc(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"minictr does not implement {name}: {why}")
    rpc.__name__ = name
    rpc.__doc__ = f"{name}: UNIMPLEMENTED ({why})."
    return rpc
