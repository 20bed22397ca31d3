"""One deployment, Lambda-shaped, per test session (see ``harness.deployed``).

Runs in its own pytest process (``make test-lambda``): the CDK synth it
starts imports the Chalice app, and the package then runs in processes of
its own — nothing from this process's ``runtime/`` import is used by them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from devstack.lambda_harness import REPO, deployed


@pytest.fixture(scope="session")
def deployment():
    with deployed(
        Path(os.environ.get("LAMBDA_HARNESS_SOURCE") or REPO), keep=bool(os.environ.get("KEEP_LAMBDA_HARNESS"))
    ) as deployment:
        yield deployment
