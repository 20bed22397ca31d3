"""Deploy-time migration handler and the IAM-token database login, without AWS."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from chalicelib.auth.signing import Keyring, seed_kid
from chalicelib.core import aws, db
from chalicelib.core.settings import reset_settings
from chalicelib.ops import service


class FakeSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = dict(values)
        self.puts: list[tuple[str, str]] = []

    def get_secret_value(self, SecretId: str) -> dict:
        return {"SecretString": self.values[SecretId]}

    def put_secret_value(self, SecretId: str, SecretString: str) -> None:
        self.puts.append((SecretId, SecretString))
        self.values[SecretId] = SecretString


def _event(request_type: str, **extra) -> dict:
    return {"RequestType": request_type, "ResourceProperties": {"MigrationsDigest": "abc123"}, **extra}


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_prepare_secrets_then_migrate(request_type):
    calls = []
    result = service.on_migrations_event(
        _event(request_type, PhysicalResourceId="saas-database-migrations"),
        apply=lambda: calls.append("migrate") or ["0004_new.sql"],
        prepare_secrets=lambda: calls.append("secrets"),
    )
    assert calls == ["secrets", "migrate"]
    assert result == {
        "PhysicalResourceId": service.PHYSICAL_ID,
        "Data": {"Applied": "0004_new.sql", "Digest": "abc123"},
    }


def test_up_to_date_schema_reports_none_applied():
    result = service.on_migrations_event(_event("Update"), apply=list, prepare_secrets=lambda: None)
    assert result["Data"]["Applied"] == "none"


def test_delete_never_touches_the_database():
    def boom():
        raise AssertionError("delete must not migrate")

    result = service.on_migrations_event(
        _event("Delete", PhysicalResourceId="saas-database-migrations"), apply=boom, prepare_secrets=boom
    )
    assert result == {"PhysicalResourceId": "saas-database-migrations"}


def test_a_failed_migration_fails_the_custom_resource():
    def failing():
        raise RuntimeError("syntax error at or near ...")

    with pytest.raises(RuntimeError, match="syntax error"):
        service.on_migrations_event(_event("Update"), apply=failing, prepare_secrets=lambda: None)


@pytest.mark.parametrize("bad", [{}, {"RequestType": "Upsert"}])
def test_unknown_request_type_is_refused(bad):
    with pytest.raises(ValueError):
        service.on_migrations_event(bad, apply=list, prepare_secrets=lambda: None)


def test_seed_jwt_secret_becomes_the_runtime_document_once():
    seed = json.dumps({"seed": True, "secret": "generated-by-secrets-manager"})
    fake = FakeSecrets({"jwt": seed})
    assert service.ensure_jwt_keys("jwt", client=fake) is True
    document = json.loads(fake.values["jwt"])
    assert document["previous"] is None
    assert document["current"]["secret"] == "generated-by-secrets-manager"
    # The kid the runtime derives from the seed itself (C4): tokens issued
    # before the rewrite still verify after it.
    assert document["current"]["kid"] == seed_kid("generated-by-secrets-manager")
    # Second deploy: already in shape, nothing written (a rotated key is never overwritten).
    assert service.ensure_jwt_keys("jwt", client=fake) is False
    assert len(fake.puts) == 1


@pytest.mark.parametrize("raw", ['"just a string"', '{"secret": "x"}', '{"seed": true}'])
def test_unexpected_jwt_secret_shape_is_an_error(raw):
    with pytest.raises(ValueError):
        service.jwt_keys_from_seed(raw)


def test_app_user_password_comes_from_the_rds_secret_document():
    fake = FakeSecrets({"arn": json.dumps({"username": "saas_app_user", "password": "p@ss", "host": "h"})})
    assert service.app_user_password("arn", client=fake) == "p@ss"


def test_run_migrations_refuses_without_its_configuration(monkeypatch):
    for name in ("DB_MASTER_USER", "DB_APP_SECRET_ARN", "DB_HOST", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    try:
        with pytest.raises(RuntimeError, match="DB_MASTER_USER"):
            service.run_migrations()
    finally:
        reset_settings()


@pytest.fixture
def cloud_env(monkeypatch):
    """Settings as the CDK stack sets them (no DATABASE_URL), with throwaway credentials for signing."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("DB_IAM_AUTH", "1")
    monkeypatch.setenv("DB_HOST", "saas-dev-proxy.proxy-abc.us-east-1.rds.amazonaws.com")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
    reset_settings()
    aws.reset_clients()
    yield
    reset_settings()
    aws.reset_clients()


def test_cloud_logins_sign_a_fresh_iam_token_per_connection(cloud_env, monkeypatch):
    conninfo, kwargs = db._conninfo()
    assert conninfo == ""
    assert callable(kwargs), "the pool must compute parameters per connection: tokens expire after 15 minutes"
    first = kwargs()
    assert first["host"] == "saas-dev-proxy.proxy-abc.us-east-1.rds.amazonaws.com"
    assert first["user"] == "saas_app_user"
    assert first["sslmode"] == "verify-full"
    assert first["prepare_threshold"] is None and first["autocommit"] is True
    assert "X-Amz-Signature=" in first["password"] and "DBUser=saas_app_user" in first["password"]
    monkeypatch.setattr(db, "iam_auth_token", lambda user: f"token-{user}-2")
    assert kwargs()["password"] == "token-saas_app_user-2"


def test_master_login_for_migrations_uses_the_master_user(cloud_env):
    kwargs = db.iam_connect_kwargs("saas_master")
    assert kwargs["user"] == "saas_master"
    assert "DBUser=saas_master" in kwargs["password"]


def test_c8_proxy_logins_verify_the_certificate_against_the_amazon_roots(cloud_env):
    """``sslmode=require`` encrypts but trusts any certificate; verify-full checks chain and host name."""
    for kwargs in (db.iam_connect_kwargs("saas_master"), db.connection_kwargs()):
        assert kwargs["sslmode"] == "verify-full"
        bundle = Path(kwargs["sslrootcert"]).read_text(encoding="utf-8")
        # RDS Proxy serves an ACM certificate, which chains to Amazon's public roots.
        assert "Amazon Root CA 1" in bundle and bundle.count("BEGIN CERTIFICATE") > 50


def test_c8_the_root_bundle_can_be_pointed_elsewhere(cloud_env, monkeypatch, tmp_path):
    monkeypatch.setenv("DB_SSL_ROOT_CERT", str(tmp_path / "ca.pem"))
    reset_settings()
    assert db.iam_connect_kwargs("saas_master")["sslrootcert"] == str(tmp_path / "ca.pem")


def test_c4_the_runtime_reads_a_generated_seed_secret_as_its_current_key():
    """Secrets Manager regenerates the flat seed when CDK replaces the secret; the runtime must not 500."""
    ring = Keyring.from_json(json.dumps({"seed": True, "secret": "s3cret"}))
    assert ring.current.kid == seed_kid("s3cret") and ring.current.secret == b"s3cret"
    assert ring.previous is None
    assert Keyring.from_json(json.dumps({"seed": True, "secret": "s3cret"})).current == ring.current


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class _Conn:
    def close(self) -> None:
        pass


def test_b5_migrations_wait_for_the_proxy_with_backoff_and_a_fresh_token_each_time():
    clock, tokens, failures = _Clock(), [], [3]

    def connect(**kwargs):
        if failures[0]:
            failures[0] -= 1
            raise psycopg.OperationalError("connection timeout expired")
        return _Conn()

    attempts = service.wait_for_database(
        lambda: tokens.append(len(tokens)) or {"password": f"token-{len(tokens)}"},
        connect=connect,
        sleep=clock.sleep,
        clock=lambda: clock.now,
    )
    assert attempts == 4
    assert clock.sleeps == [2.0, 4.0, 8.0]
    assert len(tokens) == 4


def test_b5_migrations_give_up_with_the_last_error_before_the_function_times_out():
    clock = _Clock()

    def connect(**kwargs):
        raise psycopg.OperationalError("proxy target not registered")

    with pytest.raises(psycopg.OperationalError, match="not registered"):
        service.wait_for_database(dict, connect=connect, sleep=clock.sleep, clock=lambda: clock.now)
    assert service.CONNECT_DEADLINE_SECONDS - 30 <= clock.now <= service.CONNECT_DEADLINE_SECONDS
    assert max(clock.sleeps) == 30.0
