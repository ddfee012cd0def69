"""Registry answers turned into the image path's errors, with the registry's
own words (Distribution's `{"errors": [{"code", "message", "detail"}]}`
body, else a short, printable piece of whatever it sent)."""
from __future__ import annotations

import json

from minictr.image.errors import AuthError, NotFound, RegistryError

_MAX_TEXT = 200
_MAX_BODY = 64 << 10  # an error body is read this far, even when streamed


def _body_start(resp) -> bytes:
    try:
        return next(resp.iter_content(_MAX_BODY), b"") or b""
    except Exception:  # a broken or already-consumed stream says nothing more
        return getattr(resp, "_content", b"") or b""


def error_message(resp) -> str:
    """The error codes and messages of a response body, or ''."""
    raw = _body_start(resp)
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):
            parts = []
            for err in errors:
                if isinstance(err, dict):
                    code, message = str(err.get("code", "")), str(err.get("message", ""))
                    parts.append(f"{code}: {message}" if code and message else code or message)
            if any(parts):
                return "; ".join(p for p in parts if p)
        for key in ("details", "detail", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    text = raw[:_MAX_TEXT * 2].decode("utf-8", "replace")
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text[:_MAX_TEXT] + ("..." if len(text) > _MAX_TEXT else "")


def raise_for_status(resp, what: str, host: str) -> None:
    """Raise the error a failed answer means; `what` names the image or blob
    (`manifest library/busybox:latest`, `blob sha256:…`)."""
    status = resp.status_code
    if status < 400:
        return
    detail = error_message(resp)
    said = f": {detail}" if detail else ""
    if status == 401:
        raise AuthError(f"{host}: unauthorized: authentication required for {what}{said}")
    if status == 403:
        raise AuthError(f"{host}: denied: access to {what} is forbidden{said}")
    if status == 404:
        raise NotFound(f"{what} not found on {host}{said}")
    reason = f" {resp.reason}" if getattr(resp, "reason", "") else ""
    raise RegistryError(f"{host}: {what}: HTTP {status}{reason}{said}")
