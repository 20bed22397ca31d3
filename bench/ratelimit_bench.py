"""Rate-limiter cost per request, in-process against the local stack (moto's DynamoDB).

* ``enforce`` — the guard's work for one customer request: two conditional
  ``UpdateItem ... ADD`` calls (10-second window + burst slot, UTC-day quota),
  tier and limits from the in-process caches.
* ``GET /support-tickets`` through ``chalice.test.Client`` with the limiter on
  and with it switched off: what a customer request pays for it end to end.

moto answers over local HTTP in roughly the time DynamoDB answers in-region,
but treat the absolute numbers as a local figure, not a cloud one.

Run standalone: ``PYTHONPATH=runtime:. .venv/bin/python -m bench.ratelimit_bench [n]``
(starts a throwaway local stack).
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from bench.harness import sample_ms, summarize


def main(n: int = 1000) -> int:
    from devstack.stack import REPO_ROOT, LocalStack

    sys.path.insert(0, str(REPO_ROOT / "runtime"))  # the CDK entry point at the root is also app.py
    state = Path(tempfile.mkdtemp(prefix="ratelimit-bench-"))
    stack = LocalStack(state_dir=state, fast_unsafe=True, bcrypt_cost=4)
    env = stack.start()
    try:
        import psycopg
        from chalice.test import Client

        from app import app
        from chalicelib.auth.bootstrap import create_operator_key
        from chalicelib.ratelimit import service
        from chalicelib.ratelimit.models import Limits

        # Limits high enough never to refuse: the figure is the cost of counting.
        for tier in ("starter", "growth", "enterprise"):
            service.tier_limits_cache.put(tier, Limits(per_second=10**6, burst=10**6, daily_quota=10**9), ttl=3600)
        with psycopg.connect(env["ADMIN_DATABASE_URL"], autocommit=True) as conn:
            customer_id = conn.execute("INSERT INTO customers (name, email, tier_code) VALUES (%s, %s, 'starter')"
                                       " RETURNING id", ("Bench", f"{uuid.uuid4().hex}@bench.test")).fetchone()[0]
        enforce = summarize(sample_ms(lambda: service.enforce(customer_id), n))

        operator_key = create_operator_key(email="bench@saas.local", name="Bench", key_name="bench").key
        json_headers = {"Content-Type": "application/json"}
        with Client(app) as client:
            token = json.loads(client.http.post("/auth/authenticate", headers=json_headers,
                                                body=json.dumps({"api_key": operator_key})).body)["token"]
            operator = {**json_headers, "Authorization": f"Bearer {token}"}
            created = json.loads(client.http.post("/admin/customers", headers=operator, body=json.dumps(
                {"name": "Bench", "email": f"{uuid.uuid4().hex}@bench.test", "tier": "starter"})).body)
            key = created["api_key"]["key"]
            token = json.loads(client.http.post("/auth/authenticate", headers=json_headers,
                                                body=json.dumps({"api_key": key})).body)["token"]
            headers = {**json_headers, "Authorization": f"Bearer {token}"}

            def list_tickets() -> None:
                assert client.http.get("/support-tickets?limit=1", headers=headers).status_code == 200

            with_limiter = summarize(sample_ms(list_tickets, n))
            real_enforce, service.enforce = service.enforce, lambda customer_id: None
            try:
                without_limiter = summarize(sample_ms(list_tickets, n))
            finally:
                service.enforce = real_enforce
        print(json.dumps({"enforce": enforce, "get_support_tickets_with_limiter": with_limiter,
                          "get_support_tickets_without_limiter": without_limiter}, indent=2))
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
