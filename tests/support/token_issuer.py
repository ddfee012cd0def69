"""A tiny token issuer for Distribution's `auth: token` mode, as Docker Hub's
auth.docker.io does it: GET /token?service=&scope=... with optional Basic
credentials answers {"token", "access_token", "expires_in", "issued_at"}, a
JWT signed RS256 by a key whose certificate the registry trusts.

Distribution 2.8 finds the verifying key by the JWT header's `kid`, which it
computes from each trusted certificate as libtrust does; `libtrust_key_id`
reproduces that exactly."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .http_stubs import ThreadedServer

ISSUER = "minictr-test-issuer"
SERVICE = "minictr-test-registry"


def libtrust_key_id(public_key) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32,
    in 4-character groups joined by ':' (libtrust keyIDFromCryptoKey)."""
    from cryptography.hazmat.primitives import serialization
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class SigningKey:
    """An RSA key and the self-signed certificate the registry is told to trust."""

    def __init__(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .sign(self.key, hashes.SHA256()))
        self.kid = libtrust_key_id(self.key.public_key())

    def write_cert(self, path: Path) -> Path:
        from cryptography.hazmat.primitives import serialization
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def jwt(self, claims: dict) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = (_b64url(json.dumps(header).encode()) + "." +
                         _b64url(json.dumps(claims).encode()))
        sig = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64url(sig)


def parse_scope(scope: str) -> dict | None:
    """`repository:name:pull,push` → an access claim; the name may hold ':'."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


@dataclass
class TokenRequest:
    """One request the issuer saw, for tests that count or inspect them."""
    user: str | None
    scopes: list[str]
    granted: list[dict]
    status: int


@dataclass
class TokenIssuer(ThreadedServer):
    """Serves /token on 127.0.0.1 in a thread (start/stop/address from ThreadedServer). `users` maps user → (password,
    allowed actions); anonymous callers get `pull` on repositories whose name
    starts with one of `anonymous_pull`. `misbehave` makes it answer
    something broken ("garbage", "no-token", "500") to exercise the client."""
    users: dict[str, tuple[str, set[str]]]
    anonymous_pull: tuple[str, ...] = ()
    expires_in: int = 300
    misbehave: str | None = None
    requests: list[TokenRequest] = field(default_factory=list)
    signing_key: SigningKey = field(default_factory=SigningKey)

    @property
    def realm(self) -> str:
        return f"http://{self.address}/token"

    def _authenticate(self, header: str | None) -> tuple[str | None, bool]:
        """(user, ok): no header is an anonymous caller, a wrong one is refused."""
        if not header:
            return None, True
        try:
            kind, value = header.split(None, 1)
            user, _, password = base64.b64decode(value).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None, False
        ok = kind.lower() == "basic" and user in self.users and self.users[user][0] == password
        return user, ok

    def _grant(self, user: str | None, scopes: list[str]) -> list[dict]:
        granted = []
        for scope in scopes:
            access = parse_scope(scope)
            if access is None:
                continue
            if user is not None:
                allowed = self.users[user][1]
            elif access["type"] == "repository" and access["name"].startswith(self.anonymous_pull):
                allowed = {"pull"}
            else:
                allowed = set()
            access["actions"] = [a for a in access["actions"] if a in allowed or "*" in allowed]
            granted.append(access)
        return granted

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(req.path).query)
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        user, ok = self._authenticate(req.headers.get("Authorization"))
        if not ok:
            self.requests.append(TokenRequest(user, scopes, [], 401))
            return self._reply(req, 401, {"details": "incorrect username or password"})
        granted = self._grant(user, scopes)
        self.requests.append(TokenRequest(user, scopes, granted, 200))
        if self.misbehave == "500":
            return self._reply(req, 500, b"<html>internal error</html>")
        if self.misbehave == "garbage":
            return self._reply(req, 200, b"\x00\xffthis is not json{")
        if self.misbehave == "no-token":
            return self._reply(req, 200, {"expires_in": 60})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + self.expires_in,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": granted}
        token = self.signing_key.jwt(claims)
        # Docker Hub sends both names; clients must accept either.
        self._reply(req, 200, {"token": token, "access_token": token, "expires_in": self.expires_in,
                               "issued_at": datetime.datetime.now(datetime.timezone.utc).isoformat()})

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, body) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)
