"""How a failure reaches a CRI client: one gRPC status code and one line,
never a traceback. Servicers raise CriError where they know the code;
`Guard` (a server interceptor) turns every other exception into the code
containerd would answer with, and logs the bugs with their traceback."""
from __future__ import annotations

import logging

import grpc

from minictr.errors import MinictrError

log = logging.getLogger("minictr.cri")


class CriError(Exception):
    """A failure whose gRPC status code is known where it is raised."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> CriError:
    return CriError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> CriError:
    return CriError(grpc.StatusCode.NOT_FOUND, message)


def status_of(exc: BaseException, method: str) -> tuple[grpc.StatusCode, str]:
    """The (code, message) an exception becomes. minictr's own errors carry
    a message meant for users: containerd answers those, wrapped errors of
    its own, with UNKNOWN (NOT_FOUND when the thing is missing)."""
    from minictr.image.errors import NotFound
    if isinstance(exc, CriError):
        return exc.code, exc.message
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, MinictrError):
        return grpc.StatusCode.UNKNOWN, str(exc)
    log.error("%s failed: internal error", method, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"{method}: internal error: {type(exc).__name__}: {exc}"


class Guard(grpc.ServerInterceptor):
    """Wraps every handler: exceptions become a status (see status_of), and
    failures are logged on one line."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None:
            return None   # unknown method: gRPC itself answers UNIMPLEMENTED
        method = handler_call_details.method.rsplit("/", 1)[-1]
        if handler.unary_unary:
            return handler._replace(unary_unary=_guarded_unary(handler.unary_unary, method))
        if handler.unary_stream:
            return handler._replace(unary_stream=_guarded_stream(handler.unary_stream, method))
        return handler   # the CRI has no client-streaming RPCs


def _fail(context, exc: BaseException, method: str):
    code, message = status_of(exc, method)
    if code != grpc.StatusCode.UNIMPLEMENTED:
        log.warning("%s: %s: %s", method, code.name, message)
    context.abort(code, message)


def _guarded_unary(behavior, method: str):
    def guarded(request, context):
        try:
            return behavior(request, context)
        except Exception as exc:
            if _is_abort(exc):
                raise
            _fail(context, exc, method)
    return guarded


def _guarded_stream(behavior, method: str):
    def guarded(request, context):
        try:
            yield from behavior(request, context)
        except Exception as exc:
            if _is_abort(exc):
                raise
            _fail(context, exc, method)
    return guarded


def _is_abort(exc: BaseException) -> bool:
    """context.abort() raises a bare Exception that gRPC recognises; let it through."""
    return type(exc) is Exception and not exc.args
