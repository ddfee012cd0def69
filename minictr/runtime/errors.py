"""Errors the runtime reports to its caller as one line and a non-zero exit."""


from minictr.errors import MinictrError


class RuntimeFailure(MinictrError):
    """A user-facing failure of a runtime verb (message is printed as is)."""


class ContainerNotFound(RuntimeFailure):
    def __init__(self, container_id: str):
        super().__init__(f"container does not exist: {container_id}")


class ContainerStopped(RuntimeFailure):
    """The verb needs a running container (kill, exec, pause, update)."""


class SpawnFailure(RuntimeFailure):
    """The C shim reported an error from inside the new process; `err` is
    its errno, `at_exec` whether it was finding or executing the program."""

    def __init__(self, message: str, err: int = 0, at_exec: bool = False):
        super().__init__(message)
        self.err = err
        if at_exec:
            import errno
            self.program_code = (127 if err == errno.ENOENT else
                                 126 if err in (errno.EACCES, errno.EPERM, errno.EISDIR, errno.ENOEXEC) else None)
