"""``make run``: the local stack in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading

from devstack.bootstrap import local_credentials, write_stack_info
from devstack.stack import REPO_ROOT, LocalStack


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    host = os.environ.get("HOST", "127.0.0.1")
    state_dir = REPO_ROOT / ".local"
    stack = LocalStack(
        state_dir=state_dir,
        pg_port=int(os.environ.get("PG_PORT", "54329")),
        bcrypt_cost=int(os.environ.get("BCRYPT_COST", "12")),
    )
    stack.start()

    from app import app

    from devstack.server import local_server

    server = local_server(app, host, port)
    api_url = f"http://{host}:{port}"
    info = {"api_url": api_url, **local_credentials()}
    write_stack_info(state_dir / "stack.json", info)

    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(f"Local stack ready: {api_url}  (credentials in {state_dir / 'stack.json'})", flush=True)
    try:
        server.server.serve_forever()
    finally:
        server.server.server_close()
        stack.stop()
        print("Local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
