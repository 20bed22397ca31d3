"""Sending webhook deliveries: at least once, each attempt recorded, with backoff over about a day.

A delivery (one event for one endpoint) is claimed with a lease committed
before the send (:data:`LEASE_S`, far above one attempt's
``urls.TIMEOUT_S``): while it runs no other sender claims the row, so two
senders never send it at once. The request is made with no transaction
open; the outcome is recorded in a new transaction (retried on fresh
connections: the record is idempotent). A process that dies between the
send and the record leaves the lease to end, and the delivery is sent again:
at least once, which is why ``webhook-id`` (the event id) stays the same.

Backoff: attempt 1 right away (``events.send_soon``, else the job within a
minute); after a failure the next attempt waits :data:`BACKOFF_S` in turn,
1 min, 5 min, 30 min, 2 h, 5 h, 10 h: 7 attempts over about 17.6 hours.
After the 7th failure the delivery is ``dead``. A failure is anything but a
2xx in time: a timeout, a refused connection, a redirect, a 4xx or 5xx.

The signing key is KMS ciphertext (``auth.secret_box``); opened keys are kept
in this process for :data:`KEY_CACHE_TTL_S` (``core.cache.LocalCache``), so
a burst of deliveries costs one KMS call per endpoint, not one per attempt.
A KMS outage sends nothing and uses no attempt: the lease is released and the
run stops, as e-mail delivery does during an SES outage.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from chalicelib.auth import secret_box
from chalicelib.core import aws, db
from chalicelib.core.cache import LocalCache
from chalicelib.core.contract import SealedPurpose
from chalicelib.core.db import Connection
from chalicelib.core.observability import dependency_degraded, logger
from chalicelib.core.settings import get_settings
from chalicelib.webhooks import repository, signing, urls
from chalicelib.webhooks.models import ClaimedDelivery, DeliveryReport, utc_z

BACKOFF_S: tuple[int, ...] = (60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(BACKOFF_S) + 1
LEASE_S = 60
BATCH_SIZE = 100
# Attempts (each itself retried once on a fresh connection) to record an attempt's outcome.
RECORD_ATTEMPTS = 4
# send_soon's budget: attempts start while it lasts (each may take up to urls.TIMEOUT_S).
SEND_SOON_BUDGET_S = 2.0
KEY_CACHE_TTL_S = 300

_keys: LocalCache[uuid.UUID, bytes] = LocalCache(max_entries=2_000, ttl=KEY_CACHE_TTL_S)


class KeyUnavailable(Exception):
    """KMS could not open the endpoint's key: nothing was sent and no attempt used (the lease is released)."""


def key_context(customer_id: uuid.UUID, endpoint_id: uuid.UUID) -> dict[str, str]:
    """The encryption context that binds an endpoint's sealed key to its tenant and to the endpoint."""
    return {"purpose": SealedPurpose.WEBHOOK_SECRET, "customer_id": str(customer_id), "endpoint_id": str(endpoint_id)}


def remember_key(endpoint_id: uuid.UUID, key: bytes) -> None:
    """Keep a new endpoint's key (its creation just sealed it): its first deliveries need no KMS call."""
    _keys.put(endpoint_id, key)


def forget_key(endpoint_id: uuid.UUID) -> None:
    _keys.pop(endpoint_id)


def next_state(previous_status: str, attempt: int, succeeded: bool) -> tuple[str, int | None]:
    """The delivery's status after its ``attempt``-th attempt, and the delay before the next (``None``: none).

    A manual retry of a delivery that had already succeeded or died changes
    nothing on failure: it is not scheduled again.
    """
    if succeeded:
        return "succeeded", None
    if previous_status in ("succeeded", "dead"):
        return previous_status, None
    if attempt >= MAX_ATTEMPTS:
        return "dead", None
    return "failed", BACKOFF_S[attempt - 1]


def payload(delivery: ClaimedDelivery) -> bytes:
    """The request body: ``{"id","type","created_at","customer_id","data"}``, the same bytes on every attempt."""
    document = {
        "id": str(delivery.event_id),
        "type": delivery.event_type,
        "created_at": utc_z(delivery.event_created_at),
        "customer_id": str(delivery.customer_id),
        "data": delivery.event_data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def deliver_due(
    *,
    event_ids: Sequence[uuid.UUID] | None = None,
    customer_id: uuid.UUID | None = None,
    time_budget_s: float | None = None,
    batch_size: int = BATCH_SIZE,
) -> DeliveryReport:
    """Send what is due (only these events' deliveries, with ``event_ids``), until none is left or
    ``time_budget_s`` has passed (no attempt starts after it).

    ``customer_id``: run in that tenant's transactions; else as the operator.
    An endpoint that did not answer at all (timeout, refused) gets no more
    attempts in this run: its other deliveries wait for the next one.
    """
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    succeeded = failed = skipped = deferred = 0
    unresponsive: set[uuid.UUID] = set()
    seen: set[uuid.UUID] = set()
    stop = False
    while not stop and not _expired(deadline):
        with _transaction(customer_id) as conn:
            due = repository.due(conn, limit=batch_size, event_ids=event_ids, skip=sorted(unresponsive))
        fresh = [(delivery_id, endpoint_id) for delivery_id, endpoint_id in due if delivery_id not in seen]
        for delivery_id, endpoint_id in fresh:
            seen.add(delivery_id)
            if endpoint_id in unresponsive:
                skipped += 1
                continue
            with _transaction(customer_id) as conn:
                claimed = repository.claim_due(conn, delivery_id, lease_s=LEASE_S)
            if claimed is None:  # being sent by another sender, or no longer due
                skipped += 1
                continue
            try:
                attempt = attempt_claimed(claimed, customer_id)
            except KeyUnavailable:
                deferred += 1
                stop = True
                break
            succeeded += attempt["succeeded"]
            failed += not attempt["succeeded"]
            if attempt["status_code"] is None:
                unresponsive.add(endpoint_id)
            if _expired(deadline):
                break
        stop = stop or not fresh or len(due) < batch_size
    if succeeded or failed or deferred:
        logger.info(
            "webhooks delivered",
            extra={"succeeded": succeeded, "failed": failed, "skipped": skipped, "deferred": deferred},
        )
    return DeliveryReport(succeeded=succeeded, failed=failed, skipped=skipped, deferred=deferred)


def attempt_claimed(delivery: ClaimedDelivery, customer_id: uuid.UUID | None) -> dict[str, Any]:
    """Send one claimed delivery and record the attempt; the attempt's row. :class:`KeyUnavailable` when KMS is down."""
    try:
        key = _key(delivery)
    except aws.DependencyUnavailable as exc:
        _release(customer_id, delivery.id)
        dependency_degraded("kms", "webhooks_stay_queued", exc)
        raise KeyUnavailable from exc
    except secret_box.SecretBoxError:
        answer = urls.Answer(None, error="the endpoint's signing secret cannot be opened")
    else:
        body = payload(delivery)
        headers = signing.headers(key, str(delivery.event_id), int(time.time()), body)
        answer = urls.post(delivery.url, body, headers, allow_local=get_settings().webhooks_allow_local)
    attempt = delivery.attempts + 1
    status, delay_s = next_state(delivery.status, attempt, answer.succeeded)

    def record() -> dict[str, Any] | None:
        with _transaction(customer_id) as conn:
            recorded = repository.record(
                conn,
                delivery,
                status=status,
                delay_s=delay_s,
                status_code=answer.status_code,
                succeeded=answer.succeeded,
                error=None if answer.error is None else answer.error[:300],
                response_prefix=answer.body_prefix,
            )
            return recorded if recorded is not None else repository.attempt(conn, delivery.id, attempt)

    # The request went out: its record must not be lost to a dead connection (the lease would end
    # and the event go out again). Recording is idempotent, so it is retried for a few seconds.
    row: dict[str, Any] | None = None
    for tries in range(1, RECORD_ATTEMPTS + 1):
        try:
            row = db.retry_once_if_lost(record, what="webhook attempt record")
            break
        except db.LOST:
            if tries == RECORD_ATTEMPTS:
                raise
            time.sleep(0.5 * tries)
    if row is None:  # RECORD writes the delivery and its attempt together: one without the other is a bug
        raise AssertionError(f"attempt {attempt} of delivery {delivery.id} was neither recorded nor found")
    if not answer.succeeded:
        logger.info(
            "webhook attempt failed",
            extra={"delivery_id": str(delivery.id), "attempt": attempt, "status": status, "error": answer.error},
        )
    return row


def _expired(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _key(delivery: ClaimedDelivery) -> bytes:
    def unseal(endpoint_id: uuid.UUID) -> bytes:
        return secret_box.unseal(delivery.secret_sealed, key_context(delivery.customer_id, endpoint_id))

    return _keys.get_or_load(delivery.endpoint_id, unseal)


def _release(customer_id: uuid.UUID | None, delivery_id: uuid.UUID) -> None:
    with _transaction(customer_id) as conn:
        repository.release(conn, delivery_id)


@contextlib.contextmanager
def _transaction(customer_id: uuid.UUID | None) -> Iterator[Connection]:
    if customer_id is None:
        with db.operator_transaction() as conn:
            yield conn
    else:
        with db.tenant_transaction(customer_id) as conn:
            yield conn
