"""The local AWS endpoint (moto's ThreadedMotoServer) and the resources the app expects there."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import secrets
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from chalicelib.core.tables import ALL_TABLES

# The service a SigV4-signed request is for: ``Credential=<key>/<date>/<region>/<service>/aws4_request``.
_SIGNED_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


class _Outages:
    """Services the local endpoint pretends are down (``dynamodb``, ``ses``...): fault injection."""

    def __init__(self) -> None:
        self.down: set[str] = set()
        self.refused: dict[str, int] = {}
        self._lock = threading.Lock()

    def refuses(self, environ: dict) -> str | None:
        if not self.down:
            return None
        match = _SIGNED_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = match.group(1) if match else None
        if service not in self.down:
            return None
        with self._lock:
            self.refused[service] = self.refused.get(service, 0) + 1
        return service

    def wrap(self, app):
        def application(environ, start_response):
            service = self.refuses(environ)
            if service is None:
                return app(environ, start_response)
            # What an AWS endpoint answers when the service cannot serve: 503, retryable.
            message = f"{service} is unavailable"
            if environ.get("HTTP_X_AMZ_TARGET"):  # JSON protocol (DynamoDB, Secrets Manager...)
                body = json.dumps({"__type": "ServiceUnavailable", "message": message}).encode()
                content_type = "application/x-amz-json-1.0"
            else:  # query protocol (SES): an XML error document
                body = (
                    "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
                    f"<Message>{message}</Message></Error></ErrorResponse>"
                ).encode()
                content_type = "text/xml"
            start_response(
                "503 Service Unavailable", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
            )
            return [body]

        return application


class _UntracedRequestHandler(MotoRequestHandler):
    """moto's request handler, run with no tracer in its thread.

    A coverage run (the runtime tests, ``--cov``) measures the runtime, not the AWS
    stand-in: tracing moto's request threads nearly doubled the suite's CPU time.
    """

    def handle(self) -> None:
        sys.settrace(None)
        super().handle()


class _FaultableMotoServer(ThreadedMotoServer):
    """moto's threaded server with :class:`_Outages` in front of its WSGI application."""

    def __init__(self, outages: _Outages, **kwargs) -> None:
        super().__init__(**kwargs)
        self._outages = outages

    def _server_entry(self) -> None:
        app = self._outages.wrap(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=_UntracedRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


class LocalAws:
    """moto in server mode on 127.0.0.1:``port``; real boto3 calls, no cloud account.

    :meth:`outage` makes one service answer ``503`` to every call for a while
    (the chaos tests' DynamoDB and SES outages); the rest keeps working.
    """

    def __init__(self, port: int, region: str = "us-east-1") -> None:
        self.port = port
        self.region = region
        self._server: ThreadedMotoServer | None = None
        self.outages = _Outages()

    @contextlib.contextmanager
    def outage(self, *services: str) -> Iterator[_Outages]:
        """While inside, calls signed for ``services`` (SigV4 names: ``dynamodb``, ``ses``) get 503."""
        self.outages.down.update(services)
        try:
            yield self.outages
        finally:
            self.outages.down.difference_update(services)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        _serialize_dynamodb_writes()
        self._server = _FaultableMotoServer(self.outages, ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def in_process(self) -> bool:
        """Whether moto runs in this process (its backends can then be reached directly)."""
        return self._server is not None

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


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


def provision(
    aws: LocalAws,
    *,
    table_names: dict[str, str],
    jwt_secret_id: str,
    pepper_secret_id: str,
    ses_sender: str,
    mfa_key_alias: str,
    key_file: Path | None = None,
) -> None:
    """Create tables (from the shared specs), secrets, the verified SES sender and the MFA key; idempotent."""
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
    local_kms_key(aws, mfa_key_alias, key_file)


def local_kms_key(aws: LocalAws, alias: str, key_file: Path | None = None) -> str:
    """A symmetric KMS key under ``alias`` (created unless it exists); returns its ARN.

    moto keeps nothing across restarts, but PostgreSQL (``.local/pg``) does: a
    user's TOTP secret sealed by the last ``make run`` must still open. So
    with ``key_file``, when moto runs in this process, the key's id and
    material are kept there (0600, like ``stack.json``) and the next start
    puts them back into moto's key. A local key for local data, never a cloud one.
    """
    kms = aws.client("kms")
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except kms.exceptions.NotFoundException:
        pass
    metadata = kms.create_key(
        Description=f"Local stack: {alias}", KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT"
    )["KeyMetadata"]
    arn = metadata["Arn"]
    if key_file is not None and aws.in_process:
        arn = _keep_key(metadata, key_file)
    kms.create_alias(AliasName=alias, TargetKeyId=arn.rsplit("/", 1)[1])
    return arn


def _keep_key(metadata: dict, key_file: Path) -> str:
    """Give moto's new key the id and material saved in ``key_file``, or save them there; returns the ARN."""
    from moto.kms.models import kms_backends

    backend = kms_backends[metadata["AWSAccountId"]][metadata["Arn"].split(":")[3]]
    key = backend.keys.pop(metadata["KeyId"])
    if key_file.exists():
        saved = json.loads(key_file.read_text())
        key.arn = key.arn.replace(key.id, saved["key_id"])
        key.id, key.key_material = saved["key_id"], bytes.fromhex(saved["material"])
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump({"key_id": key.id, "material": key.key_material.hex()}, handle)
    backend.keys[key.id] = key
    return key.arn
