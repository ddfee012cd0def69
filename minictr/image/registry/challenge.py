"""`WWW-Authenticate` challenges (RFC 7235) as registries send them:

    Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"
    Basic realm="Registry Realm"

Values may be quoted (with commas, spaces and backslash escapes inside) or
bare tokens; one header may carry several challenges; `scope` may list
several scopes separated by spaces, or be repeated. A header that does not
parse raises ChallengeError saying where it went wrong."""
from __future__ import annotations

from dataclasses import dataclass, field

_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~")
# token68 (RFC 7235) may also hold '/' and trailing '='
_TOKEN68_CHARS = _TOKEN_CHARS | frozenset("/=")
# Unquoted values are read leniently, up to a comma or space: registries
# seen in the wild send `realm=https://host/token` unquoted.
_BARE_VALUE_CHARS = _TOKEN68_CHARS | frozenset(":?@[];<>{}\\()")


class ChallengeError(ValueError):
    """A WWW-Authenticate header that cannot be understood."""


@dataclass
class Challenge:
    scheme: str  # lowercased: "bearer", "basic", ...
    params: dict[str, str] = field(default_factory=dict)  # keys lowercased
    scopes: list[str] = field(default_factory=list)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")


class _Scanner:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def skip(self, chars: str = " \t") -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self, allowed=_TOKEN_CHARS) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in allowed:
            self.pos += 1
        return self.text[start:self.pos]

    def quoted(self) -> str:
        self.pos += 1  # the opening quote
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch == '"':
                return "".join(out)
            if ch == "\\" and self.pos < len(self.text):
                ch = self.text[self.pos]
                self.pos += 1
            out.append(ch)
        raise ChallengeError(f"unterminated quoted string in WWW-Authenticate header {self.text!r}")

    def at_param(self) -> bool:
        """Whether a `name=` follows (else a new challenge's scheme does)."""
        save = self.pos
        name = self.token()
        self.skip()
        is_param = bool(name) and self.peek() == "=" and self.text[self.pos:self.pos + 2] != "=="
        self.pos = save
        return is_param


def parse(header: str) -> list[Challenge]:
    """All challenges in one header value, in order."""
    if not isinstance(header, str) or not header.strip():
        raise ChallengeError("empty WWW-Authenticate header")
    s = _Scanner(header)
    challenges: list[Challenge] = []
    while True:
        s.skip(" \t,")
        if not s.peek():
            break
        scheme = s.token()
        if not scheme:
            raise ChallengeError(f"expected an auth scheme at offset {s.pos} of WWW-Authenticate header {header!r}")
        challenge = Challenge(scheme.lower())
        challenges.append(challenge)
        s.skip()
        if s.peek() and s.peek() != "," and not s.at_param():
            challenge.params["token68"] = s.token(_TOKEN68_CHARS)  # e.g. `Negotiate abc==`
            s.skip()
        while True:
            s.skip(" \t,")
            if not s.peek() or not s.at_param():
                break
            name = s.token().lower()
            s.skip()
            s.pos += 1  # '='
            s.skip()
            value = s.quoted() if s.peek() == '"' else s.token(_BARE_VALUE_CHARS)
            if name == "scope":
                challenge.scopes.extend(v for v in value.split(" ") if v)
            challenge.params.setdefault(name, value)
            s.skip()
            if s.peek() not in ("", ","):
                raise ChallengeError(f"unexpected {s.peek()!r} at offset {s.pos} of WWW-Authenticate header {header!r}")
    if not challenges:
        raise ChallengeError(f"no challenge in WWW-Authenticate header {header!r}")
    return challenges


def pick(header: str) -> Challenge:
    """The challenge to answer: Bearer if offered, else Basic."""
    challenges = parse(header)
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    raise ChallengeError(f"unsupported auth scheme {challenges[0].scheme!r} in WWW-Authenticate header {header!r}")
