"""Which endpoint URLs webhooks may be sent to, and the one way a webhook request is made.

A webhook makes our servers send a request wherever a tenant says: without a
policy, to the instance metadata service (169.254.169.254), the database, or
anything else in the VPC (server-side request forgery). So:

* **At creation** (:func:`check`): the URL is ``https``, names a host, has no
  user or fragment, and every address its host resolves to is public
  (:func:`is_public`). Otherwise ``422``.
* **At every send** (:func:`post`): the host is resolved again and every
  address checked again (DNS may have changed since: "DNS rebinding"), and
  the connection goes to the address that was checked, not to a second
  resolution: the socket is opened to that IP, while TLS still sends the
  host name (SNI) and verifies the certificate against it, and the ``Host``
  header still names it. Nothing is followed: a redirect is an answer like
  any other (a failed attempt, since it is not 2xx). One attempt takes at
  most :data:`TIMEOUT_S` in all (socket timeouts, and a watchdog that shuts
  the socket at the deadline, so a server trickling bytes cannot hold it
  longer); at most :data:`RESPONSE_PREFIX_CHARS` of the answer are read.
* **Locally** (``Settings.webhooks_allow_local``, set by the dev stack only,
  never by the CDK): ``http://127.0.0.1:<port>`` (or ``https``) is allowed
  too, so the tests and ``make run`` can deliver to a receiver on the laptop.
  Nothing else private is.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
TIMEOUT_S = 5.0
RESPONSE_PREFIX_CHARS = 256
LOCAL_HOST = "127.0.0.1"
# NAT64 prefixes (RFC 6052, RFC 8215): an address in them is an IPv4 address in disguise.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(ValueError):
    """The URL (or what its host resolves to) is not one webhooks are sent to; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL, split the way a request needs it."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent on the request line
    local: bool = False  # the local stack's receiver (127.0.0.1), allowed by the setting


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: the status (``None``: no HTTP answer), the answer's first characters, an error."""

    status_code: int | None
    body_prefix: str = ""
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet: not private, loopback, link-local (the metadata
    service), shared (CGNAT 100.64/10), multicast, reserved, unspecified, nor an IPv6 form of one of those."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is None and any(address in network for network in _NAT64):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.sixtofour is not None or address.teredo is not None:
            return False  # tunnels: where they lead is not what the address says
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def parse(url: str, *, allow_local: bool) -> Target:
    """Split and check ``url`` without resolving it; :class:`UrlRefused` says what is wrong."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"url must be 1 to {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise UrlRefused("url may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"url is malformed: {exc}") from exc
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if "@" in parts.netloc:
        raise UrlRefused("url may not carry a user name or password")
    if parts.fragment:
        raise UrlRefused("url may not have a fragment")
    if not host:
        raise UrlRefused("url must name a host")
    local = allow_local and host == LOCAL_HOST
    allowed_schemes = ("https", "http") if local else ("https",)
    if scheme not in allowed_schemes:
        raise UrlRefused("url must use https" if not local else "url must use http or https")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UrlRefused("url's host is not a valid name") from exc
    if not local and port not in (None, 443):
        # In the cloud only TCP 443 leaves the VPC (the functions' one egress rule, through the NAT).
        raise UrlRefused("url must use the default https port (443)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, ascii_host, port or (443 if scheme == "https" else 80), path, local)


def lookup(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (tests replace this to play DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def addresses(target: Target) -> list[IPAddress]:
    """The addresses to connect to, every one checked: :class:`UrlRefused` if any is not public.

    All of them, not the first: a name that resolves to one public and one
    private address is refused, since either could be the one connected to.
    """
    if target.local:
        return [ipaddress.IPv4Address(LOCAL_HOST)]
    try:
        found = [ipaddress.ip_address(address.split("%", 1)[0]) for address in lookup(target.host, target.port)]
    except (OSError, UnicodeError, ValueError) as exc:
        raise UrlRefused(f"url's host {target.host} does not resolve") from exc
    if not found:
        raise UrlRefused(f"url's host {target.host} does not resolve")
    refused = sorted({str(address) for address in found if not is_public(address)})
    if refused:
        raise UrlRefused(f"url's host {target.host} resolves to an address that is not public ({refused[0]})")
    return found


def check(url: str, *, allow_local: bool) -> Target:
    """The creation-time check: :func:`parse`, then every address public (:func:`addresses`)."""
    target = parse(url, allow_local=allow_local)
    addresses(target)
    return target


def post(
    url: str, body: bytes, headers: dict[str, str], *, allow_local: bool, timeout_s: float | None = None
) -> Answer:
    """POST ``body`` to ``url`` under the policy (checked again now), to the checked address; never raises.

    A refused URL or address, a connection or TLS failure and a timeout
    (``timeout_s``, by default :data:`TIMEOUT_S`) are answers without a
    status code (``error`` says which).
    """
    timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
    try:
        target = parse(url, allow_local=allow_local)
        checked = addresses(target)
        # IPv4 first: the functions reach the internet over IPv4 only (the NAT).
        address = str(min(checked, key=lambda a: a.version))
    except UrlRefused as exc:
        return Answer(None, error=f"refused: {exc}")
    if target.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPS(target.host, target.port, address, timeout_s)
    else:
        connection = _PinnedHTTP(target.host, target.port, address, timeout_s)
    watchdog = threading.Timer(timeout_s, _abort, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        prefix = _printable(response.read(RESPONSE_PREFIX_CHARS))
        if not 100 <= response.status <= 599:  # http.client takes up to 999; HTTP defines no such status
            return Answer(None, prefix, error=f"not an HTTP status: {response.status}")
        return Answer(response.status, prefix)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        # OSError covers refused connections, socket timeouts and TLS errors (ssl.SSLError).
        return Answer(None, error=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        watchdog.cancel()
        connection.close()


def _printable(raw: bytes) -> str:
    """At most :data:`RESPONSE_PREFIX_CHARS` characters PostgreSQL can store (no NUL)."""
    return raw.decode("utf-8", "replace").replace("\x00", "")[:RESPONSE_PREFIX_CHARS]


def _abort(connection: http.client.HTTPConnection) -> None:
    """The deadline passed: shut the socket, so the blocked read in the sending thread ends now."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP (local receivers only) to ``address``; ``Host`` still names the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout_s: float) -> None:
        super().__init__(host, port, timeout=timeout_s)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to ``address``, verifying the certificate against the URL's host name (also sent as SNI)."""

    def __init__(self, host: str, port: int, address: str, timeout_s: float) -> None:
        super().__init__(host, port, timeout=timeout_s)
        self._address = address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        tls = _tls_context().wrap_socket(raw, server_hostname=self.host, do_handshake_on_connect=False)
        self.sock = tls  # before the handshake: the watchdog can end a stalled one too
        tls.do_handshake()


_context: ssl.SSLContext | None = None
_context_lock = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process (certifi's roots, as ``core.db`` uses)."""
    global _context  # noqa: PLW0603 - built once per warm container; building it reads the CA bundle
    with _context_lock:
        if _context is None:
            import certifi

            _context = ssl.create_default_context(cafile=certifi.where())
        return _context
