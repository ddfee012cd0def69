"""Small HTTP servers on 127.0.0.1 for registry tests, each in a thread of
the test process (ThreadedServer; the token issuer is one too):

  StubServer   answers from a table of canned (status, headers, body) replies,
               to play a hostile or broken registry
  FlakyProxy   forwards to a real registry but first fails some requests
               (503, 429 with Retry-After, or a dropped connection)"""
from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)


class ThreadedServer:
    """Run `handle(request_handler)` for every request, in a daemon thread."""
    _server = None

    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                owner.seen.append((self.command, self.path))
                owner.handle(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, *args):
                pass

        self.seen: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @staticmethod
    def send(req: BaseHTTPRequestHandler, reply: Reply) -> None:
        req.send_response(reply.status)
        for name, value in reply.headers.items():
            req.send_header(name, value)
        if not any(k.lower() == "content-length" for k in reply.headers):
            req.send_header("Content-Length", str(len(reply.body)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(reply.body)


class StubServer(ThreadedServer):
    """`routes` maps a path (without query) to a Reply, or to a callable
    (handler) → Reply; anything else is a 404 with a Distribution error."""

    def __init__(self, routes: dict):
        self.routes = routes

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        reply = self.routes.get(req.path.split("?", 1)[0])
        if callable(reply):
            reply = reply(req)
        if reply is None:
            reply = Reply(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no such route"}]}',
                          {"Content-Type": "application/json"})
        self.send(req, reply)


class FlakyProxy(ThreadedServer):
    """Forwards to `target` (host:port). `failures` is a list consumed one per
    request: a Reply to send instead of forwarding, "drop" to close the
    connection without answering, or None to forward that request."""

    def __init__(self, target: str, failures: list | None = None):
        self.target, self.failures = target, list(failures or [])
        self._lock = threading.Lock()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure == "drop":
            req.close_connection = True
            req.connection.shutdown(2)
            return
        if isinstance(failure, Reply):
            return self.send(req, failure)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.target, timeout=30)
        try:
            headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(req.command, req.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            headers = {k: v for k, v in resp.getheaders() if k.lower() not in ("connection", "transfer-encoding")}
            if req.command != "HEAD":  # a HEAD keeps the length of what a GET would send
                headers["Content-Length"] = str(len(data))
            self.send(req, Reply(resp.status, data, headers))
        finally:
            conn.close()
