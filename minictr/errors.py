"""The one error type the `minictr` CLI turns into a single line and a
non-zero exit. Raise a subclass where the fault is known, with a message a
user can act on (naming the file, line, field, entry or digest)."""


class MinictrError(Exception):
    """A user-facing failure; str(e) is printed as is."""

    exit_code = 1
    # the container's program could not run: 127 (not there) or 126 (not
    # executable), as docker and a shell say; None for any other failure
    program_code: int | None = None
