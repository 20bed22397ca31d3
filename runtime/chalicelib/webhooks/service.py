"""Webhook endpoint rules: create (the secret shown once), list, delete, read deliveries, retry one now.

Every database step runs in the tenant's transaction: another tenant's
endpoint or delivery is simply not there (404). A tenant has at most
:data:`MAX_ENDPOINTS` live endpoints: creating takes the tenant's endpoint
lock before counting, so concurrent creations cannot all pass one count.
The signing key is sealed with KMS before the transaction opens (a slow call
holds no lock).
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.audit import recorder
from chalicelib.auth import secret_box
from chalicelib.core import db, errors
from chalicelib.core.pagination import keyset_page
from chalicelib.core.settings import get_settings
from chalicelib.webhooks import delivery, repository, signing, urls

# The sender lives in its own module; the job calls it through here.
from chalicelib.webhooks.delivery import deliver_due as deliver_due
from chalicelib.webhooks.events import EVENT_TYPES
from chalicelib.webhooks.models import (
    CreateEndpointBody,
    DeliveryListQuery,
    DeliveryPage,
    DeliveryResponse,
    EndpointListQuery,
    EndpointPage,
    EndpointResponse,
    NewEndpointResponse,
)

MAX_ENDPOINTS = 10


def create_endpoint(customer_id: uuid.UUID, body: CreateEndpointBody) -> NewEndpointResponse:
    """A new endpoint with a new signing secret (in this answer only); 422 for a URL or events refused."""
    events = _checked_events(body.events)
    try:
        target = urls.check(body.url, allow_local=get_settings().webhooks_allow_local)
    except urls.UrlRefused as exc:
        raise errors.Unprocessable(str(exc)) from exc
    endpoint_id = uuid.uuid4()
    key = signing.new_key()
    sealed = secret_box.seal(key, delivery.key_context(customer_id, endpoint_id))
    with db.tenant_transaction(customer_id) as conn:
        repository.lock_tenant_endpoints(conn, customer_id)
        if repository.count_live(conn) >= MAX_ENDPOINTS:
            raise errors.Conflict(f"A tenant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
        row = repository.insert_endpoint(
            conn,
            endpoint_id=endpoint_id,
            customer_id=customer_id,
            url=body.url,
            description=body.description,
            events=events,
            secret_sealed=sealed,
        )
        # Never the URL itself in the trail (kept for years): its path or query may carry a token.
        recorder.record(
            conn,
            customer_id=customer_id,
            action="webhook_endpoint.created",
            target_type="webhook_endpoint",
            target_id=endpoint_id,
            detail={"host": target.host, "events": events},
        )
    delivery.remember_key(endpoint_id, key)
    return NewEndpointResponse.model_validate({**row, "secret": signing.secret_of(key)})


def list_endpoints(customer_id: uuid.UUID, query: EndpointListQuery) -> EndpointPage:
    """The tenant's live endpoints, newest first; never a secret."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_endpoints(conn, limit=limit, after=after)
        )
    return EndpointPage(items=[EndpointResponse.model_validate(row) for row in rows], next_cursor=next_cursor)


def delete_endpoint(customer_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    """Delete now: its secret is destroyed and nothing more is sent there (what was due is abandoned)."""
    with db.tenant_transaction(customer_id) as conn:
        if repository.delete_endpoint(conn, endpoint_id) is None:
            raise errors.NotFound("Webhook endpoint not found")
        recorder.record(
            conn,
            customer_id=customer_id,
            action="webhook_endpoint.deleted",
            target_type="webhook_endpoint",
            target_id=endpoint_id,
        )
    delivery.forget_key(endpoint_id)


def list_deliveries(customer_id: uuid.UUID, endpoint_id: uuid.UUID, query: DeliveryListQuery) -> DeliveryPage:
    """The endpoint's delivery attempts, newest first."""
    with db.tenant_transaction(customer_id) as conn:
        if not repository.endpoint_is_live(conn, endpoint_id):
            raise errors.NotFound("Webhook endpoint not found")
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_attempts(conn, endpoint_id, limit=limit, after=after)
        )
    return DeliveryPage(items=[DeliveryResponse.model_validate(row) for row in rows], next_cursor=next_cursor)


def retry(customer_id: uuid.UUID, endpoint_id: uuid.UUID, attempt_id: uuid.UUID) -> DeliveryResponse:
    """Send the event of delivery record ``attempt_id`` to the endpoint again, now; the new attempt's record.

    Whatever the delivery's state: a manual retry of one that succeeded sends
    it again (the receiver de-duplicates on ``webhook-id``). 409 while a
    sender holds it; 503 when KMS cannot open the key.
    """
    with db.tenant_transaction(customer_id) as conn:
        delivery_id = repository.delivery_of_attempt(conn, endpoint_id, attempt_id)
        if delivery_id is None:
            raise errors.NotFound("Delivery not found")
        claimed = repository.claim_for_retry(conn, delivery_id, lease_s=delivery.LEASE_S)
    if claimed is None:
        raise errors.Conflict("This delivery is being sent right now; look at its deliveries in a moment")
    try:
        attempt: dict[str, Any] = delivery.attempt_claimed(claimed, customer_id)
    except delivery.KeyUnavailable as exc:
        raise errors.ServiceUnavailable(
            "The signing key cannot be opened right now; retry shortly", headers={"Retry-After": "5"}
        ) from exc
    return DeliveryResponse.model_validate({**attempt, "event_type": claimed.event_type})


def _checked_events(events: list[str]) -> list[str]:
    """Non-empty, no repeats, each a known type (422 otherwise)."""
    if not events:
        raise errors.Unprocessable("events must name at least one event type")
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise errors.Unprocessable(f"Unknown event types {unknown}; known: {list(EVENT_TYPES)}")
    if len(set(events)) != len(events):
        raise errors.Unprocessable("events must not repeat an event type")
    return list(events)
