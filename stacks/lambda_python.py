"""Package the Chalice app for the Lambda Python version pinned in ``cdk.json``, not the deployer's.

chalice 1.34 has no setting for the Lambda runtime: ``Config.lambda_python_version``
follows ``sys.version_info`` of whoever runs the synth, and that one value picks
both the SAM ``Runtime`` of every function and the ABI (``cp3XY``) of the Linux
wheels chalice downloads. A deployer on Python 3.11 would ship ``python3.11``
(whose function creation Lambda blocks since its deprecation), one on 3.13 a
different package again.

:func:`packaging_for` pins both for the duration of a packaging call:

* ``Config.lambda_python_version`` answers ``pythonX.Y``, so the SAM template
  says ``Runtime: pythonX.Y`` and chalice asks for ``cpXY`` wheels;
* chalice's ``pip download --platform ... --abi cpXY`` calls also get
  ``--python-version X.Y``. Without it pip matches wheel tags against the
  *running* interpreter (``cp311-cp312-…`` matches nothing), and chalice then
  leaves out every binary dependency that has per-version wheels (psycopg-binary,
  pydantic-core) with only a warning.

Both are chalice internals, so the context manager refuses any other chalice
version than the one it was written against (``requirements.txt`` pins it):
re-check ``chalice/config.py`` and ``chalice/deploy/packager.py`` when bumping.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from unittest import mock

CHALICE_VERSION = "1.34.0"
_VERSION = re.compile(r"^3\.\d{1,2}$")


def runtime_name(version: str) -> str:
    """``"3.12"`` → ``"python3.12"`` (the Lambda runtime identifier)."""
    if not _VERSION.match(version):
        raise ValueError(f"a Lambda Python version looks like '3.12', not {version!r}")
    return f"python{version}"


@contextlib.contextmanager
def packaging_for(version: str) -> Iterator[str]:
    """While active, chalice packages for Lambda's ``python{version}``; yields the runtime name."""
    import chalice
    from chalice.config import Config
    from chalice.deploy.packager import PipRunner

    if chalice.__version__ != CHALICE_VERSION:
        raise RuntimeError(
            f"stacks.lambda_python patches chalice {CHALICE_VERSION} internals, found {chalice.__version__}: "
            "re-check Config.lambda_python_version and PipRunner before bumping chalice"
        )
    runtime = runtime_name(version)
    original_execute = PipRunner._execute

    def execute(self, command, args, env_vars=None, shim=None):
        # Only the cross-platform wheel downloads (they carry --abi); never touch
        # the plain dependency resolution or sdist builds.
        if command == "download" and "--abi" in args and "--python-version" not in args:
            args = ["--python-version", version, *args]
        return original_execute(self, command, args, env_vars=env_vars, shim=shim)

    with (
        mock.patch.object(Config, "lambda_python_version", new_callable=mock.PropertyMock, return_value=runtime),
        mock.patch.object(PipRunner, "_execute", execute),
    ):
        yield runtime
