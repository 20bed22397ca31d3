"""The local stack exactly as ``make run`` starts it (``python -m devstack``), in a child process.

Used by the end-to-end tests (tests/e2e), the browser tests (tests/portal) and
the portal bench (bench/portal_bench.py): each drives the stack from outside,
with nothing but ``stack.json``. The child gets its own temporary state
directory (``LOCAL_STATE_DIR``: database, local keys, ``stack.json``) and free
ports (API, PostgreSQL, portal), so it never meets a developer's ``.local``,
their ``make run`` or another test's stack; nothing of this process's
environment points it elsewhere (no ``DATABASE_URL``, ``AWS_ENDPOINT_URL``,
``STRIPE_API_BASE``). Ready when ``stack.json`` exists; stopped by SIGTERM (as
Ctrl-C), then its process group, then its PostgreSQL if anything was left
running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devstack.postgres import EmbeddedPostgres, free_port
from devstack.stack import ADMIN_DATABASE_URL, REPO_ROOT

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
# What would point the stack at another database or AWS endpoint than its own.
FOREIGN_ENVIRONMENT = ("DATABASE_URL", ADMIN_DATABASE_URL, "AWS_ENDPOINT_URL", "STRIPE_API_BASE", "LOCAL_STATE_DIR")


class StackDidNotStart(RuntimeError):
    """``python -m devstack`` exited or wrote no ``stack.json`` in time (the message ends with its output)."""


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no output)"


def _wait_for_stack_json(process: subprocess.Popen[bytes], path: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not path.exists():
        if process.poll() is not None:
            raise StackDidNotStart(
                f"python -m devstack exited ({process.returncode}) before it was ready:\n{log_tail(log)}"
            )
        if time.monotonic() > deadline:
            raise StackDidNotStart(
                f"python -m devstack wrote no stack.json in {START_TIMEOUT_S:.0f} s:\n{log_tail(log)}"
            )
        time.sleep(0.2)
    info: dict[str, Any] = json.loads(path.read_text())
    return info


def _stop(process: subprocess.Popen[bytes], pg: EmbeddedPostgres) -> None:
    """SIGTERM (the stack stops its server and PostgreSQL), then the whole group, then PostgreSQL itself."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own group (start_new_session): only its processes
            process.wait(STOP_TIMEOUT_S)
    pg.stop()  # pg_ctl detaches the server from the group: stop it if the stack could not


@contextlib.contextmanager
def spawned_stack(
    prefix: str = "saas-stack-", env: dict[str, str] | None = None, show_output: bool = True
) -> Iterator[dict[str, Any]]:
    """``stack.json`` of a fresh local stack in a child process (``api_url``, ``portal_url``, the credentials...).

    ``env`` adds to (or overrides) the child's environment, e.g. ``BCRYPT_COST``.
    At the end the child's output (its request log) is printed unless
    ``show_output`` is false: pytest shows it only for a failed test.
    """
    state = Path(tempfile.mkdtemp(prefix=prefix))
    pg_port = free_port()
    child_env = {key: value for key, value in os.environ.items() if key not in FOREIGN_ENVIRONMENT}
    child_env.update(
        LOCAL_STATE_DIR=str(state),
        PORT=str(free_port()),
        PG_PORT=str(pg_port),
        PORTAL_PORT=str(free_port()),
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "runtime"), str(REPO_ROOT)]),
    )
    child_env.update(env or {})
    log = state.parent / f"{state.name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=REPO_ROOT,
            env=child_env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pg = EmbeddedPostgres(state / "pg", pg_port)
    try:
        yield _wait_for_stack_json(process, state / "stack.json", log)
    finally:
        _stop(process, pg)
        if show_output:
            print(f"python -m devstack exited with {process.returncode}; its output ends:\n{log_tail(log)}")
        shutil.rmtree(state, ignore_errors=True)
        log.unlink(missing_ok=True)
