"""Write the app's OpenAPI document to a file: ``python -m devstack.openapi_dump OUT.json``.

The portal's API types (``portal/src/api/schema.d.ts``) are generated from this
file, and ``make portal-types-check`` fails when they drift from it. So the
document is taken the way a client gets it: a ``GET /openapi.json`` through
Chalice's test client, not a call into the generator, so that whatever the route
adds or serializes is in it too. Serving that route needs no database, cache or
AWS endpoint (it is public and built from the route registry), so this runs
offline in a second.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any


def served_document() -> dict[str, Any]:
    """The document ``GET /openapi.json`` answers, parsed (a non-200 answer is an error)."""
    # The app logs each request (and its metrics) on stdout: send that to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        import app  # runtime/app.py (PYTHONPATH holds runtime/, as in the Makefile)
        from chalice.test import Client

        with Client(app.app) as client:
            response = client.http.get("/openapi.json")
    if response.status_code != 200:
        raise RuntimeError(f"GET /openapi.json answered {response.status_code}: {response.body[:200]!r}")
    document: dict[str, Any] = json.loads(response.body)
    return document


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m devstack.openapi_dump OUT.json", file=sys.stderr)
        return 2
    document = served_document()
    out = Path(argv[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    # Key order as served (the route registry's, which is deterministic), indented for diffs.
    out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out} ({len(document.get('paths', {}))} paths)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
