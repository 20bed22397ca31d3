"""The local stack: embedded PostgreSQL, moto's AWS endpoint, migrations and the Chalice server.

Used by ``make run`` (``python -m devstack``), the test fixtures and the benchmark.
Not shipped to Lambda.
"""
