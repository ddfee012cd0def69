"""Errors the runtime reports to its caller as one line and a non-zero exit."""


from minictr.errors import MinictrError


class RuntimeFailure(MinictrError):
    """A user-facing failure of a runtime verb (message is printed as is)."""


class ContainerNotFound(RuntimeFailure):
    def __init__(self, container_id: str):
        super().__init__(f"container does not exist: {container_id}")


class SpawnFailure(RuntimeFailure):
    """The C shim reported an error from inside the new process."""
