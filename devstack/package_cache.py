"""The Lambda harness's synthesized package, kept between steps that would build it from the same inputs.

``make test`` builds the packaged artifact (a full ``dev`` synth through
cdk.json's command, ``chalice.cdk`` packaging ``runtime/``) in
tests/lambda_harness, and again for ``bench --quick``'s ``cold_init_ms``:
about a minute each on a 2-core machine, for the same bytes. So what the
harness reads of a synth (the stateless template, its assets manifest and the
code zip, plus how long the synth took) is kept in
``.local/lambda-package/<key>``, where ``key`` hashes every input the synth
reads: infra.py, cdk.json, requirements.txt, ``cdk_app/``, ``stacks/``,
``runtime/`` (without ``__pycache__`` and chalice's own dependency cache), the
built portal (``portal/dist``, a stack asset) and the names of the installed
distributions of the checkout's ``.venv`` (their versions: chalice and
aws-cdk-lib decide the output as much as our sources do). Any change there is
another key, so a rebuild. An entry is used for :data:`MAX_AGE_S` at most (the
dependency wheels chalice resolves are not all pinned), and only the newest
entry is kept. The task root is still unzipped fresh for every use: the cold
start measured must import from a package without bytecode, as Lambda's does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MAX_AGE_S = 12 * 3600
INPUT_FILES = ("infra.py", "cdk.json", "requirements.txt")
INPUT_TREES = ("cdk_app", "stacks", "runtime", "portal/dist")
SKIPPED_DIRS = {"__pycache__", "deployments"}  # bytecode; runtime/.chalice/deployments: chalice's wheel cache
META = "synth.json"


def _files(source: Path) -> Iterator[Path]:
    for name in INPUT_FILES:
        if (source / name).is_file():
            yield source / name
    for tree in INPUT_TREES:
        for root, dirs, files in os.walk(source / tree):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
            for name in sorted(files):
                if not name.endswith(".pyc"):
                    yield Path(root) / name


def input_key(source: Path, environment: str) -> str:
    """A hash of everything the synth of ``source`` for ``environment`` reads (see the module docstring)."""
    digest = hashlib.sha256(f"environment={environment}\n".encode())
    for path in _files(source):
        digest.update(f"{path.relative_to(source)}\n".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    installed = sorted(p.name for p in (source / ".venv").glob("lib/python*/site-packages/*.dist-info"))
    digest.update("\n".join(installed).encode())
    return digest.hexdigest()[:32]


def cache_root(source: Path) -> Path:
    return source / ".local" / "lambda-package"


def load(source: Path, key: str) -> tuple[Path, float] | None:
    """The cached synth output directory for ``key`` and the synth's seconds, or None (absent or too old)."""
    entry = cache_root(source) / key
    meta = entry / META
    if not meta.is_file():
        return None
    recorded = json.loads(meta.read_text())
    if time.time() - recorded["stored_at"] > MAX_AGE_S:
        shutil.rmtree(entry, ignore_errors=True)
        return None
    return entry, float(recorded["synth_seconds"])


def store(source: Path, key: str, outdir: Path, files: list[str], synth_seconds: float) -> Path:
    """Copy ``files`` (relative to the synth's ``outdir``) into the entry for ``key``; drop older entries."""
    root = cache_root(source)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    for name in files:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(outdir / name, staging / name)
    (staging / META).write_text(json.dumps({"synth_seconds": synth_seconds, "stored_at": time.time()}))
    entry = root / key
    shutil.rmtree(entry, ignore_errors=True)
    staging.rename(entry)  # atomic: a reader sees a whole entry or none
    for other in root.iterdir():
        # Older entries; a staging directory only once it is clearly abandoned (another writer's is recent).
        if other != entry and (not other.name.startswith(".") or time.time() - other.stat().st_mtime > 3600):
            shutil.rmtree(other, ignore_errors=True)
    return entry
