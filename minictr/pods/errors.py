"""The pods layer's errors: one line each, naming the file, field, plugin or
sandbox at fault."""
from __future__ import annotations

from minictr.errors import MinictrError


class PodError(MinictrError):
    """Something about a pod sandbox went wrong; the message says what."""


class NetnsError(PodError):
    """A pod's named network namespace could not be made or removed."""


class CNIError(PodError):
    """Pod networking by CNI failed."""


class CNIConfigError(CNIError):
    """A CNI network configuration file is missing, malformed or incomplete."""


class CNIPluginNotFound(CNIError):
    """A plugin `type` has no executable in any of the CNI bin dirs."""


class CNIPluginError(CNIError):
    """A plugin ran and failed: its CNI error result (code, msg, details),
    or its exit status and stderr when it printed none."""

    def __init__(self, message: str, *, plugin: str, command: str, code: int | None = None,
                 msg: str = "", details: str = ""):
        super().__init__(message)
        self.plugin, self.command, self.code, self.msg, self.details = plugin, command, code, msg, details


class CNIResultError(CNIError):
    """A plugin's stdout was not a result the spec describes."""
