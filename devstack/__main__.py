"""``make run``: the local stack in the foreground until Ctrl-C or SIGTERM.

``PORT``, ``HOST``, ``PG_PORT``, ``PORTAL_PORT`` and ``BCRYPT_COST`` as in the README; ``LOCAL_STATE_DIR``
(default ``.local``) holds the database, the local keys and ``stack.json``, so a
test can start a second, throwaway stack beside a developer's own.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from chalicelib.core.contract import Env
from devstack.bootstrap import local_credentials, write_stack_info
from devstack.stack import REPO_ROOT, LocalStack


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    portal_port = int(os.environ.get("PORTAL_PORT", "8001"))
    state_dir = Path(os.environ.get("LOCAL_STATE_DIR") or REPO_ROOT / ".local").resolve()
    stack = LocalStack(
        state_dir=state_dir,
        pg_port=int(os.environ.get("PG_PORT", "54329")),
        bcrypt_cost=int(os.environ.get("BCRYPT_COST", "12")),
        portal_url=f"http://{host}:{portal_port}",
    )
    # Stopped while starting (SIGTERM as Ctrl-C): unwind through ``finally``, so PostgreSQL stops too.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        env = stack.start()
        _serve(env, state_dir, host, port, portal_port)
    except KeyboardInterrupt:  # stopped before it was ready: no traceback, the usual exit status
        return 130
    finally:
        stack.stop()
        print("Local stack stopped.", flush=True)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve(env: dict[str, str], state_dir: Path, host: str, port: int, portal_port: int) -> None:
    from app import app

    from devstack.portal_server import start_portal
    from devstack.server import local_server

    server = local_server(app, host, port)
    api_url = f"http://{host}:{port}"
    portal = start_portal(env, host, portal_port, api_url, REPO_ROOT / "portal" / "dist")
    _stripe_webhooks_to(env, api_url)
    info = stack_info(
        api_url,
        env[Env.AWS_ENDPOINT_URL],
        local_credentials(),
        stripe_api_base=env[Env.STRIPE_API_BASE],
        stripe_publishable_key=env[Env.STRIPE_PUBLISHABLE_KEY],
        portal_url=portal.url,
    )
    write_stack_info(state_dir / "stack.json", info)

    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"Local stack ready: {api_url}  (credentials in {state_dir / 'stack.json'})", flush=True)
    print(f"  customer portal: {portal.url}", flush=True)
    print(f"  demo owner: {info['demo_user_email']} / {info['demo_user_password']}  (POST /auth/login)", flush=True)
    print(f"  local AWS endpoint (the e-mails sent are in its SES): {info['aws_endpoint_url']}", flush=True)
    print(f"  local Stripe (localstripe; Stripe.js at /js.stripe.com/v3/): {info['stripe_api_base']}", flush=True)
    try:
        server.server.serve_forever()
    finally:
        server.server.server_close()
        portal.stop()


def stack_info(
    api_url: str,
    aws_endpoint_url: str,
    credentials: dict[str, str | None],
    *,
    stripe_api_base: str | None = None,
    stripe_publishable_key: str | None = None,
    portal_url: str | None = None,
) -> dict[str, Any]:
    """What ``stack.json`` holds: the API's URL, the local AWS endpoint, the local credentials and, when
    given, the local Stripe (its API base, where a card form's Stripe.js is too, and the publishable key)
    and the customer portal's URL."""
    info: dict[str, Any] = {"api_url": api_url, "aws_endpoint_url": aws_endpoint_url, **credentials}
    if stripe_api_base is not None:
        info |= {"stripe_api_base": stripe_api_base, "stripe_publishable_key": stripe_publishable_key}
    if portal_url is not None:
        info["portal_url"] = portal_url
    return info


def _stripe_webhooks_to(env: dict[str, str], api_url: str) -> None:
    """localstripe sends its payment events to this API's ``POST /webhooks/stripe``, signed with the local secret."""
    from devstack.stripe_server import WEBHOOK_EVENTS, register_webhook

    try:
        register_webhook(
            env[Env.STRIPE_API_BASE],
            "saas",
            f"{api_url}/webhooks/stripe",
            env[Env.STRIPE_WEBHOOK_SECRET],
            WEBHOOK_EVENTS,
        )
    except OSError as error:  # another Stripe stand-in (STRIPE_API_BASE) may not take webhooks: charges still work
        print(f"  (Stripe webhooks not registered at {env[Env.STRIPE_API_BASE]}: {error})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
