"""The local Stripe: ``localstripe`` (a Stripe-compatible server from PyPI) in its own process.

It answers the Stripe API the runtime uses (customers, payment methods,
SetupIntents, PaymentIntents confirmed off-session) for any ``sk_`` key: card
``4242424242424242`` succeeds, ``4000000000000341`` attaches but is declined
when charged. It serves a fake Stripe.js at ``/js.stripe.com/v3/`` (which takes
the publishable key in POST data), and sends signed events to the webhook
endpoints registered with :meth:`LocalStripe.register_webhook`.

localstripe keeps its objects in ``/tmp/localstripe.pickle``, shared by every
instance on the machine. Run through this module (``python -m
devstack.stripe_server STATE_FILE --port N``) it keeps them in ``STATE_FILE``
instead: the tests' stacks start empty and never meet each other's, and
``make run`` keeps its Stripe customers in ``.local`` beside the database that
names them, across restarts. ``--from-scratch`` still starts empty.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 30.0


class LocalStripe:
    """localstripe on 127.0.0.1:``port``, its state in ``state_file``; its output goes to ``log_file``."""

    def __init__(self, state_file: Path, port: int, log_file: Path | None = None) -> None:
        self.state_file = state_file
        self.port = port
        self.log_file = log_file or state_file.with_suffix(".log")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "devstack.stripe_server", str(self.state_file), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parent.parent,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{self.api_base}/js.stripe.com/v3/", timeout=1):
                    return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"localstripe did not start; see {self.log_file}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        self._process = None

    def register_webhook(self, name: str, url: str, secret: str, events: list[str] | None = None) -> None:
        register_webhook(self.api_base, name, url, secret, events)


# What the runtime's Stripe webhook acts on (payments.stripe_webhooks); localstripe sends nothing else.
WEBHOOK_EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed"]


def register_webhook(api_base: str, name: str, url: str, secret: str, events: list[str] | None = None) -> None:
    """Have the localstripe at ``api_base`` send its events (``events`` only, if given) to ``url``, signed with ``secret``.

    localstripe keeps this in memory only: register again after every start.
    """
    body: dict[str, Any] = {"url": url, "secret": secret}
    if events is not None:
        body["events"] = events
    request = urllib.request.Request(
        f"{api_base}/_config/webhooks/{name}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def _serve(state_file: Path, arguments: list[str]) -> None:
    """Run localstripe's server with its store kept in ``state_file``."""
    # Imported by name: localstripe ships no type information (and is no runtime dependency).
    resources = importlib.import_module("localstripe.resources")
    server = importlib.import_module("localstripe.server")

    def load(store: Any) -> None:
        if state_file.exists():
            with state_file.open("rb") as handle:
                saved = pickle.load(handle)  # our own file, written by dump() below
            store.clear()
            store.update(saved)

    def dump(store: Any) -> None:
        temporary = state_file.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            pickle.dump(dict(store), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, state_file)

    resources.Store.try_load_from_disk = load
    resources.Store.dump_to_disk = dump
    sys.argv = [sys.argv[0], *arguments]
    server.start()


if __name__ == "__main__":
    _serve(Path(sys.argv[1]).resolve(), sys.argv[2:])
