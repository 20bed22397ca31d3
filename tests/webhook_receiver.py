"""A local HTTP server that receives webhooks, for the tests (``http.server`` in a thread on 127.0.0.1).

What it answers depends on the path's first segment; each test uses its own
path below it (``receiver.url("ok")`` is ``.../ok/<random>``) and reads back
only what arrived there:

* ``ok``: 200 ``thanks``; ``fail``: 500; ``flaky``: 503 on the first request, then 200;
* ``redirect``: 302 to ``/redirected/...`` (which would answer 200, if anyone followed);
* ``big``: 200 with a 10,000-character body; ``binary``: 200 with NULs and invalid UTF-8;
* ``slow``: waits 2 s, then 200; ``trickle``: sends its status line and headers one byte
  every 0.1 s for about 3 s, then 200.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, behaviour: str) -> str:
        return f"http://127.0.0.1:{self.port}/{behaviour}/{uuid.uuid4().hex}"

    def received(self, url: str) -> list[Received]:
        path = url.split(str(self.port), 1)[1]
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def received_under(self, prefix: str) -> list[Received]:
        with self.lock:
            return [request for request in self.requests if request.path.startswith(prefix)]

    def wait_for(self, url: str, count: int = 1, timeout_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(found := self.received(url)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                earlier = sum(1 for request in receiver.requests if request.path == self.path)
                receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            behaviour = self.path.split("/")[1]
            if behaviour == "slow":
                time.sleep(2)
            if behaviour == "trickle":
                self._trickle()
                return
            status, payload, extra = {
                "ok": (200, b"thanks", {}),
                "redirected": (200, b"followed", {}),
                "fail": (500, b"nope", {}),
                "flaky": ((503 if earlier == 0 else 200), b"flaky", {}),
                "redirect": (302, b"", {"Location": "/redirected/" + self.path.split("/")[2]}),
                "big": (200, b"x" * 10_000, {}),
                "binary": (200, b"ab\x00\xff\xfecd" * 100, {}),
                "slow": (200, b"late", {}),
            }.get(behaviour, (404, b"unknown", {}))
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _trickle(self) -> None:
            head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"p" * 30 + b"\r\nContent-Length: 2\r\n\r\nok"
            try:
                for byte in head:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass  # the sender hung up: what the test expects

    return Handler


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    receiver = Receiver(port=server.server_address[1])
    server.RequestHandlerClass = _handler(receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    return receiver, server, thread
