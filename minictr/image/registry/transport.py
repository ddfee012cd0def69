"""HTTP to registries, with authentication done here and only here (the
go-containerregistry transport idea): a request that is answered 401 has its
WWW-Authenticate challenge answered (a Bearer token fetched from the realm,
anonymously or with Basic credentials, or Basic auth itself) and is sent
once more. Tokens are kept per (registry, scopes) until they expire.

Also here: retries with exponential backoff on 429, 5xx and connection
errors (bounded in count and time, Retry-After honoured), and the choice of
scheme: https with verified TLS, plain http for insecure hosts (loopback
directly, other insecure hosts after https fails, as docker does)."""
from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass

from minictr.image.errors import AuthError, RegistryError
from minictr.image.registry import challenge as _challenge
from minictr.image.registry.config import Endpoint, canonical_host
from minictr import explain

USER_AGENT = "minictr/0.1"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """At most `attempts` tries, delays base·2ⁿ capped at `max_delay`, and no
    new try once `max_total` seconds have passed; a Retry-After longer than
    what is left of that budget ends the retries."""
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.base_delay * (2 ** attempt), self.max_delay)


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    import email.utils
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _rewind(body):
    """A callable putting a file-like body back where it started, for a resend;
    None when the body cannot be sent twice (an iterator)."""
    if body is None or isinstance(body, (bytes, bytearray)):
        return lambda: None
    if hasattr(body, "seek") and hasattr(body, "tell"):
        start = body.tell()
        return lambda: body.seek(start)
    return None


class Transport:
    """Send registry requests; see the module docstring. `credentials(host)`
    returns (user, password) or None for a canonical registry host;
    `bearer(host)` a token the caller already holds (a CRI AuthConfig's
    registry_token), sent as is instead of any challenge flow."""

    def __init__(self, credentials=None, retry: RetryPolicy = RetryPolicy(),
                 timeout: tuple[float, float] = (10.0, 120.0), bearer=None):
        self.credentials = credentials or (lambda host: None)
        self.bearer = bearer or (lambda host: None)
        self.retry, self.timeout = retry, timeout
        self._session = None
        self._tokens: dict[tuple[str, tuple[str, ...]], _Token] = {}
        self._bearer: dict[str, _challenge.Challenge] = {}  # host → its Bearer challenge
        self._basic_hosts: set[str] = set()
        self._scheme: dict[str, str] = {}  # host → the scheme that answered
        self._known_credentials: dict[str, tuple[str, str] | None] = {}
        # Parallel layer downloads share one client: one token fetch at a time,
        # so they wait for the token the first one gets instead of each asking.
        self._auth_lock = threading.Lock()

    @property
    def session(self):
        if self._session is None:
            import requests

            class _NoNetrc(requests.auth.AuthBase):
                """Keeps requests from adding ~/.netrc credentials over ours."""
                def __call__(self, r):
                    return r

            self._session = requests.Session()
            self._session.auth = _NoNetrc()
            self._session.headers["User-Agent"] = USER_AGENT
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- the request, with auth -------------------------------------------------

    def request(self, method: str, endpoint: Endpoint, path: str, *, scopes: tuple[str, ...] = (),
                headers: dict | None = None, data=None, stream: bool = False, retry: bool = True,
                allow_redirects: bool = True):
        """Send `method path` (or an absolute URL on the same registry, as an
        upload Location) to `endpoint`; returns the final requests.Response,
        whatever its status, after at most one auth retry."""
        scopes = tuple(sorted(set(scopes)))
        rewind = _rewind(data)
        with self._auth_lock:
            authorization = self._authorization(endpoint, scopes)
        resp = self._send(method, endpoint, path, headers, data, stream, authorization, retry,
                          allow_redirects)
        if resp.status_code != 401 or rewind is None:
            return resp
        header = resp.headers.get("WWW-Authenticate", "")
        resp.close()
        if self.bearer(endpoint.host):
            raise AuthError(f"{endpoint.host}: unauthorized: the registry token given was refused")
        with self._auth_lock:
            authorization = self._answer(endpoint, header, scopes, sent=authorization)
        rewind()
        resp = self._send(method, endpoint, path, headers, data, stream, authorization, retry, allow_redirects)
        if resp.status_code == 401 and authorization.startswith("Basic "):
            # htpasswd-style registries have no per-repository rights: a 401 means the password.
            from minictr.image.registry.errors import error_message
            with resp:
                user = self._credentials(endpoint.host)[0]
                raise AuthError(f"{endpoint.host}: credentials of {user!r} refused (wrong username or password?): "
                                f"{error_message(resp) or 'HTTP 401'}")
        return resp

    def _credentials(self, host: str) -> tuple[str, str] | None:
        """Looked up once per host (the lookup reads files)."""
        host = canonical_host(host)
        if host not in self._known_credentials:
            self._known_credentials[host] = self.credentials(host)
        return self._known_credentials[host]

    def _authorization(self, endpoint: Endpoint, scopes: tuple[str, ...]) -> str | None:
        """What to send up front: a cached token, or a new one when the host's
        Bearer challenge is already known, or Basic for a Basic host."""
        host = endpoint.host
        given = self.bearer(host)
        if given:
            return "Bearer " + given
        if host in self._basic_hosts:
            creds = self._credentials(host)
            return _basic(*creds) if creds else None
        token = self._tokens.get((host, scopes))
        if token and token.expires_at > time.monotonic():
            return "Bearer " + token.value
        if host in self._bearer:
            return "Bearer " + self._fetch_token(endpoint, self._bearer[host], scopes)
        return None

    def _answer(self, endpoint: Endpoint, header: str, scopes: tuple[str, ...], sent: str | None) -> str:
        host = endpoint.host
        token = self._tokens.get((host, scopes))
        if token and "Bearer " + token.value != sent and token.expires_at > time.monotonic():
            return "Bearer " + token.value  # a parallel request got one while ours was refused
        self._tokens.pop((host, scopes), None)
        try:
            chosen = _challenge.pick(header)
        except _challenge.ChallengeError as e:
            raise AuthError(f"{host}: unauthorized, and its authentication challenge is unusable: {e}") from None
        creds = self._credentials(host)
        if chosen.scheme == "basic":
            if not creds:
                raise AuthError(f"{host}: unauthorized: authentication required (no credentials; "
                                f"run `minictr login {canonical_host(host)}`)")
            self._basic_hosts.add(host)
            explain.step("401 Unauthorized", f"{host} asks for Basic auth: send again as {creds[0]!r}")
            return _basic(*creds)
        if not chosen.realm:
            raise AuthError(f"{host}: unauthorized, and its Bearer challenge has no realm: {header!r}")
        explain.step("401 Unauthorized", f"{host} asks for a Bearer token from {chosen.realm}: get one, send again")
        self._bearer[host] = chosen
        return "Bearer " + self._fetch_token(endpoint, chosen, tuple(sorted(set(scopes) | set(chosen.scopes))),
                                             cache_as=scopes)

    # -- tokens ----------------------------------------------------------------

    def _fetch_token(self, endpoint: Endpoint, bearer: _challenge.Challenge, scopes: tuple[str, ...],
                     cache_as: tuple[str, ...] | None = None) -> str:
        """GET realm?service=&scope=… (Docker's token protocol), Basic auth
        when we hold credentials for the registry."""
        from urllib.parse import urlsplit
        realm, host = bearer.realm, endpoint.host
        if urlsplit(realm).scheme not in ("http", "https"):
            raise AuthError(f"{host}: token realm {realm!r} is not an http(s) URL")
        params = [("service", bearer.service)] if bearer.service else []
        params += [("scope", s) for s in scopes]
        creds = self._credentials(host)
        headers = {"Authorization": _basic(*creds)} if creds else {}
        # An insecure registry's own realm shares its (unverified) certificate.
        same_host = urlsplit(realm).netloc == host
        resp = self._send_url("GET", realm, params=params, headers=headers, host=realm,
                              verify=not (endpoint.insecure and same_host))
        try:
            body = resp.json() if resp.status_code == 200 else None
        except ValueError:
            body = None
        finally:
            resp.close()
        if resp.status_code in (401, 403):
            if creds:
                raise AuthError(f"{host}: token server {realm} refused the credentials of {creds[0]!r} "
                                f"(wrong username or password?): {_short_reason(resp)}")
            raise AuthError(f"{host}: token server {realm} refused an anonymous token: {_short_reason(resp)}")
        if resp.status_code != 200:
            raise AuthError(f"{host}: token server {realm} answered {resp.status_code}: {_short_reason(resp)}")
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(f"{host}: token server {realm} returned no token (expected JSON with "
                            f"'token' or 'access_token'): {_short_reason(resp)}")
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 60.0
        self._tokens[(host, scopes if cache_as is None else cache_as)] = _Token(
            token, time.monotonic() + lifetime * 0.9)
        explain.step(f"GET {realm}", f"a token for {' '.join(scopes)}"
                     f" ({'as ' + repr(creds[0]) if creds else 'anonymous'}), valid {lifetime:.0f} s")
        return token

    # -- sending, with retries and scheme choice --------------------------------

    def _send(self, method, endpoint: Endpoint, path, headers, data, stream, authorization, retry,
              allow_redirects):
        headers = dict(headers or {})
        if authorization:
            headers["Authorization"] = authorization
        options = dict(headers=headers, data=data, stream=stream, verify=not endpoint.insecure,
                       allow_redirects=allow_redirects, host=endpoint.host)
        if path.startswith(("http://", "https://")):
            return self._send_url(method, path, retry=retry, **options)
        known = self._scheme.get(endpoint.host)
        schemes = (known,) if known else endpoint.schemes
        for scheme in schemes[:-1]:
            # Probing https on an insecure host: one try, then plain http.
            rewind = _rewind(data)
            try:
                resp = self._send_url(method, f"{scheme}://{endpoint.host}{path}", retry=False, **options)
            except RegistryError:
                if rewind is None:
                    raise
                rewind()
                continue
            self._scheme[endpoint.host] = scheme
            return resp
        resp = self._send_url(method, f"{schemes[-1]}://{endpoint.host}{path}", retry=retry, **options)
        self._scheme[endpoint.host] = schemes[-1]
        return resp

    def _send_url(self, method: str, url: str, *, headers=None, data=None, params=None, stream=False,
                  retry=True, verify=True, allow_redirects=True, host: str = ""):
        import requests
        rewind = _rewind(data) if retry else None
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                resp = self.session.request(method, url, headers=headers, data=data, params=params,
                                            stream=stream, verify=verify, timeout=self.timeout,
                                            allow_redirects=allow_redirects)
                wait = _retry_after(resp.headers) if resp.status_code in RETRY_STATUSES else None
                failure = resp if resp.status_code in RETRY_STATUSES else None
            except requests.exceptions.SSLError as e:
                raise RegistryError(f"TLS to {host or url} failed: {_connection_reason(e)}") from None
            except (requests.ConnectionError, requests.Timeout) as e:
                if _unresolvable(e):  # a name that does not resolve will not start to
                    raise RegistryError(f"cannot reach {host or url}: {_connection_reason(e)}") from None
                resp, wait, failure = None, None, e
            if failure is None:
                return resp
            attempt += 1
            delay = self.retry.delay(attempt - 1, wait)
            spent = time.monotonic() - started
            if rewind is None or attempt >= self.retry.attempts or spent + delay > self.retry.max_total:
                if resp is not None:
                    return resp
                raise RegistryError(f"cannot reach {host or url}: {_connection_reason(failure)}") from None
            if resp is not None:
                resp.close()
            time.sleep(delay)
            rewind()


def _short_reason(resp) -> str:
    """The registry's own words, shortened: JSON `errors`/`details`, else text."""
    from minictr.image.registry.errors import error_message
    return error_message(resp) or f"HTTP {resp.status_code}"


def _unresolvable(exc: Exception) -> bool:
    from urllib3.exceptions import NameResolutionError
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, NameResolutionError)


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                   "timed out", "CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER"):
        if marker in text:
            return marker.lower().replace("_", " ")
    return text[:200]
