"""The local AWS endpoint (moto's ThreadedMotoServer) and the resources the app expects there."""
from __future__ import annotations

import functools
import json
import logging
import secrets
import threading

import boto3
from moto.server import ThreadedMotoServer

from chalicelib.core.tables import ALL_TABLES


class LocalAws:
    """moto in server mode on 127.0.0.1:``port``; real boto3 calls, no cloud account."""

    def __init__(self, port: int, region: str = "us-east-1") -> None:
        self.port = port
        self.region = region
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _serialize_dynamodb_writes()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id="local", aws_secret_access_key="local")


_DYNAMODB_WRITE_LOCK = threading.RLock()


def _serialize_dynamodb_writes() -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's own are.

    moto's threaded server evaluates a ConditionExpression and applies the
    update in two steps with no lock, so two concurrent conditional writes can
    both pass (seen: 8 requests admitted on a burst of 7 in the rate-limiter's
    concurrency test). DynamoDB guarantees a conditional write is atomic; the
    stand-in must too, or concurrency tests measure moto, not our code.
    """
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("update_item", "put_item", "delete_item", "transact_write_items", "batch_write_item"):
        method = getattr(DynamoDBBackend, name)
        if getattr(method, "_serialized", False):
            continue

        def serialized(*args, __method=method, **kwargs):
            with _DYNAMODB_WRITE_LOCK:
                return __method(*args, **kwargs)

        functools.update_wrapper(serialized, method)
        serialized._serialized = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialized)


def provision(aws: LocalAws, *, table_names: dict[str, str], jwt_secret_id: str, pepper_secret_id: str,
              ses_sender: str) -> None:
    """Create tables (from the shared specs), secrets and the verified SES sender; idempotent."""
    dynamodb = aws.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    for spec in ALL_TABLES:
        name = table_names[spec.logical_name]
        if name not in existing:
            dynamodb.create_table(**spec.boto3_create_kwargs(name))
            dynamodb.get_waiter("table_exists").wait(TableName=name)
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
    secretsmanager = aws.client("secretsmanager")
    known = {s["Name"] for s in secretsmanager.list_secrets()["SecretList"]}
    if jwt_secret_id not in known:
        kid = secrets.token_hex(8)
        value = {"current": {"kid": kid, "secret": secrets.token_urlsafe(48)}, "previous": None}
        secretsmanager.create_secret(Name=jwt_secret_id, SecretString=json.dumps(value))
    if pepper_secret_id not in known:
        secretsmanager.create_secret(Name=pepper_secret_id, SecretString=secrets.token_urlsafe(48))
    aws.client("ses").verify_email_identity(EmailAddress=ses_sender)
