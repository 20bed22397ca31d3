"""The local stack exactly as ``make run`` starts it (``python -m devstack``), in its own process.

Its own temporary state directory (``LOCAL_STATE_DIR``: database, local keys,
``stack.json``) and free ports, so it never meets a developer's ``.local`` or
another test's stack; nothing of this process's environment points it elsewhere
(no ``DATABASE_URL``, ``AWS_ENDPOINT_URL``, ``STRIPE_API_BASE``). Ready when ``stack.json`` exists;
stopped at the end by SIGTERM (as Ctrl-C), then its process group, then its
PostgreSQL if anything was left running. Its output (the request log) is
printed at teardown, which pytest shows only for a failed test.
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

import pytest

from devstack.postgres import EmbeddedPostgres, free_port
from devstack.stack import ADMIN_DATABASE_URL, REPO_ROOT

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
# What would point the stack at another database or AWS endpoint than its own.
FOREIGN_ENVIRONMENT = ("DATABASE_URL", ADMIN_DATABASE_URL, "AWS_ENDPOINT_URL", "STRIPE_API_BASE", "LOCAL_STATE_DIR")


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no output)"


def _wait_for_stack_json(process: subprocess.Popen[bytes], path: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"python -m devstack exited ({process.returncode}) before it was ready:\n{_log_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"python -m devstack wrote no stack.json in {START_TIMEOUT_S:.0f} s:\n{_log_tail(log)}")
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


@pytest.fixture(scope="module")
def local_stack() -> Iterator[dict[str, Any]]:
    """``stack.json`` of a fresh local stack (``api_url``, ``aws_endpoint_url``, the local credentials)."""
    state = Path(tempfile.mkdtemp(prefix="saas-e2e-"))
    pg_port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN_ENVIRONMENT}
    env.update(
        LOCAL_STATE_DIR=str(state),
        PORT=str(free_port()),
        PG_PORT=str(pg_port),
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT / "runtime"), str(REPO_ROOT)]),
    )
    log = state.parent / f"{state.name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pg = EmbeddedPostgres(state / "pg", pg_port)
    try:
        yield _wait_for_stack_json(process, state / "stack.json", log)
    finally:
        _stop(process, pg)
        # Shown by pytest only when a test failed: the stack's own account of the requests.
        print(f"python -m devstack exited with {process.returncode}; its output ends:\n{_log_tail(log)}")
        shutil.rmtree(state, ignore_errors=True)
        log.unlink(missing_ok=True)
