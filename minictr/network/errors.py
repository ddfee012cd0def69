"""The network package's errors: one line each, docker's wording where
docker has one (scripts match on it)."""
from minictr.errors import MinictrError


class NetworkError(MinictrError):
    """Something about networks went wrong; the message says what."""


class NetworkConfigError(NetworkError):
    """The network configuration (file, environment or arguments) is wrong."""


class NetworkNotFound(NetworkError):
    exit_code = 1


class NetworkExists(NetworkError):
    pass


class SubnetOverlap(NetworkError):
    pass


class ActiveEndpoints(NetworkError):
    pass


class PortAllocated(NetworkError):
    pass


class AddressPoolExhausted(NetworkError):
    pass
