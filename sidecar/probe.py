"""`sidecar probe`: a container HEALTHCHECK that starts fast.

It runs once per healthcheck interval in every container, so it imports almost nothing: a
hand-written HTTP/1.0 GET on the C-level `_socket` module (urllib.request alone would triple
the cost of a call; `socket` and its enums and selectors add a few ms more, see
docs/benchmarks.md). https URLs load ssl (and with it `socket`) only when asked for.
"""

import _socket
import os
import sys

USAGE = "usage: sidecar probe [URL] [--timeout SECONDS]\nexit 0 if URL answers 2xx, else 1"


def default_url() -> str:
    """`/readyz` on this host at `SIDECAR_PORT` (8080 by default)."""
    return f"http://127.0.0.1:{os.environ.get('SIDECAR_PORT', '8080')}/readyz"


def _split(url: str) -> tuple[bool, str, int, str]:
    """(tls, host, port, path) of an http(s) URL; ValueError when it is not one."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise ValueError("not an http(s) URL")
    authority, slash, path = rest.partition("/")
    host, port = authority, 443 if scheme == "https" else 80
    if authority.startswith("["):  # [::1]:8080
        host, _, tail = authority[1:].partition("]")
        if tail.startswith(":"):
            port = int(tail[1:])
    elif ":" in authority:
        host, _, number = authority.rpartition(":")
        port = int(number)
    if not host or "@" in host:
        raise ValueError("no usable host")
    return scheme == "https", host, port, slash + path or "/"


def _connect(host: str, port: int, timeout: float) -> _socket.socket:
    # An ASCII host goes to getaddrinfo as bytes: a str would import the idna codec first.
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    error: OSError = OSError(f"cannot resolve {host}")
    for family, kind, proto, _, address in _socket.getaddrinfo(name, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error


def status_of(url: str, timeout: float) -> int:
    """The HTTP status code `url` answers a GET with."""
    tls, host, port, path = _split(url)
    request = (
        f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: sidecar-probe\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    if tls:
        import socket
        import ssl

        raw = socket.create_connection((host, port), timeout=timeout)
        stream: _socket.socket = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
    else:
        stream = _connect(host, port, timeout)
    try:
        stream.sendall(request)
        head = b""
        while b"\r\n" not in head and len(head) < 1024:
            chunk = stream.recv(1024)
            if not chunk:
                break
            head += chunk
    finally:
        stream.close()
    parts = head.split(b"\r\n", 1)[0].split()
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError("not an HTTP response")
    return int(parts[1])


def probe(url: str, timeout: float = 3.0) -> int:
    """0 when `url` answers 2xx within `timeout`, else 1 (with one line on stderr)."""
    try:
        status = status_of(url, timeout)
    except (OSError, ValueError) as exc:
        print(f"probe: {url}: {exc}", file=sys.stderr)
        return 1
    if 200 <= status < 300:
        return 0
    print(f"probe: {url}: HTTP {status}", file=sys.stderr)
    return 1


def main(args: list[str]) -> int:
    """`sidecar probe [URL] [--timeout SECONDS]`, parsed without argparse (it costs ~5 ms)."""
    url, timeout = None, 3.0
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg in ("-h", "--help"):
            print(USAGE)
            return 0
        if arg == "--timeout" and rest:
            try:
                timeout = float(rest.pop(0))
            except ValueError:
                print(USAGE, file=sys.stderr)
                return 2
        elif url is None and not arg.startswith("-"):
            url = arg
        else:
            print(USAGE, file=sys.stderr)
            return 2
    return probe(url or default_url(), timeout)
