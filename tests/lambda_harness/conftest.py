"""One deployment, Lambda-shaped, per test session: package, stand-ins, migrate, an operator key, the API.

Runs in its own pytest process (``make test-lambda``): the CDK synth it
starts imports the Chalice app, and the package then runs in processes of
its own — nothing from this process's ``runtime/`` import is used by them.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.lambda_harness.harness import (
    API_FUNCTION, REPO, ApiGateway, Cloud, Functions, Package, TlsProxy, XrayDaemon, build_package,
    custom_resource_event, find_interpreter, runtime_libraries,
)

MIGRATE = "Migrate"
OPERATOR_KEY = "CreateOperatorKey"


@dataclass
class Deployment:
    package: Package
    functions: Functions
    api: ApiGateway
    xray: XrayDaemon
    admin_url: str
    aws: object  # devstack.aws.LocalAws
    variables: dict  # the API function's template variables (literal ones)
    migrate_result: dict
    operator_key: str
    cold_init_ms: float
    logs: Path

    def request(self, method: str, path: str, *, token: str | None = None, body: object = None,
                headers: dict | None = None, raw: bytes | None = None) -> tuple[int, dict, object]:
        """One HTTP request through the gateway; honours ``Retry-After`` on 429 (the tests are a client too)."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        for _ in range(5):
            request = urllib.request.Request(self.api.url + path, data=data, method=method, headers=all_headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    status, response_headers, payload = response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                status, response_headers, payload = error.code, dict(error.headers), error.read()
            if status != 429:
                break
            time.sleep(min(float(response_headers.get("Retry-After", "1")), 10))
        try:
            document = json.loads(payload) if payload else None
        except ValueError:
            document = payload
        return status, response_headers, document


def _provision(aws, variables: dict, migrate_variables: dict) -> dict[str, str]:
    """Tables, secrets and the SES identity — under the names the template gives, where it gives literals."""
    from chalicelib.core.tables import ALL_TABLES

    resolved = {}
    dynamodb = aws.client("dynamodb")
    for spec in ALL_TABLES:
        name = f"saas-harness-{spec.logical_name}"
        dynamodb.create_table(**spec.boto3_create_kwargs(name))
        resolved[f"{spec.logical_name.upper()}_TABLE"] = name
    secretsmanager = aws.client("secretsmanager")
    # As CDK creates it: the flat seed Secrets Manager generates, not yet the runtime's document.
    secretsmanager.create_secret(Name=variables["JWT_SECRET_ID"],
                                 SecretString=json.dumps({"seed": True, "secret": secrets.token_urlsafe(48)}))
    secretsmanager.create_secret(Name=variables["PEPPER_SECRET_ID"], SecretString=secrets.token_urlsafe(48))
    app_secret = secretsmanager.create_secret(
        Name="saas-dev/harness-app-user",
        SecretString=json.dumps({"username": migrate_variables["DB_APP_USER"], "password": secrets.token_urlsafe(24),
                                 "engine": "postgres"}),
    )
    resolved["DB_APP_SECRET_ARN"] = app_secret["ARN"]
    aws.client("ses").verify_email_identity(EmailAddress=variables["SES_SENDER"])
    return resolved


@pytest.fixture(scope="session")
def deployment():
    from devstack.aws import LocalAws
    from devstack.postgres import EmbeddedPostgres, free_port

    workdir = Path(tempfile.mkdtemp(prefix="saas-lambda-"))
    workdir.chmod(0o755)  # the proxy runs as the unprivileged database user when we are root
    logs = workdir / "logs"
    logs.mkdir()
    stoppers = []
    try:
        package = build_package(workdir, Path(os.environ.get("LAMBDA_HARNESS_SOURCE") or REPO))
        python = find_interpreter(package.runtime)
        runtime_dir = runtime_libraries(python)

        postgres = EmbeddedPostgres(workdir / "pg", free_port(), fast_unsafe=True)
        postgres.start()
        stoppers.append(postgres.stop)
        migrate_variables = {k: v for k, v in package.functions[MIGRATE]["Environment"]["Variables"].items()
                             if isinstance(v, str)}
        master = migrate_variables["DB_MASTER_USER"]
        # As on Aurora: the master login owns the database and may create roles; it is no superuser.
        with psycopg.connect(postgres.superuser_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE").format(sql.Identifier(master)))
            conn.execute(sql.SQL("ALTER DATABASE saas OWNER TO {}").format(sql.Identifier(master)))
        proxy = TlsProxy(workdir / "proxy", postgres.port, [master, migrate_variables["DB_APP_USER"]], master)
        stoppers.append(proxy.stop)

        aws = LocalAws(free_port())
        aws.start()
        stoppers.append(aws.stop)
        variables = {k: v for k, v in package.functions[API_FUNCTION]["Environment"]["Variables"].items()
                     if isinstance(v, str)}
        resolved = _provision(aws, variables, migrate_variables) | {"DB_HOST": "localhost"}
        xray = XrayDaemon()
        stoppers.append(xray.stop)
        cloud = Cloud(aws.endpoint_url, resolved, xray.port,
                      extra={"DB_PORT": str(proxy.port), "DB_SSL_ROOT_CERT": str(proxy.ca)})
        functions = Functions(package, cloud, python, runtime_dir, logs)
        stoppers.append(functions.stop)

        # The deploy: CloudFormation creates the migrations custom resource.
        from chalicelib.core.migrations import digest

        migrate_answer = functions.invoke(MIGRATE, custom_resource_event("Create", {"MigrationsDigest": digest()}))
        assert "error" not in migrate_answer, f"{migrate_answer}\n{(logs / f'{MIGRATE}.log').read_text()[-5000:]}"
        # After the deploy: the first operator key, as docs/DEPLOYMENT.md says.
        key_answer = functions.invoke(OPERATOR_KEY, {"email": "ops@harness.example", "name": "Harness operator"})
        assert "error" not in key_answer, key_answer

        started = time.perf_counter()
        gateway = ApiGateway(package, functions)
        stoppers.append(gateway.stop)
        with urllib.request.urlopen(gateway.url + "/health", timeout=120) as response:
            assert response.status == 200
        cold_init_ms = (time.perf_counter() - started) * 1000

        yield Deployment(package=package, functions=functions, api=gateway, xray=xray,
                         admin_url=postgres.superuser_url, aws=aws, variables=variables,
                         migrate_result=migrate_answer["result"], operator_key=key_answer["result"]["api_key"],
                         cold_init_ms=cold_init_ms, logs=logs)
    finally:
        for stop in reversed(stoppers):
            try:
                stop()
            except Exception:  # noqa: BLE001 - best-effort teardown
                pass
        if os.environ.get("KEEP_LAMBDA_HARNESS"):
            print(f"harness left in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
