"""Support tickets: open, list, read, comment on, close.

Each function is one unit of work in the caller's ``tenant_transaction``; the
audit events (``support_ticket.created`` / ``.comment_added`` / ``.closed``)
commit with the change.
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.audit import recorder
from chalicelib.core import context, db
from chalicelib.core.db import Connection
from chalicelib.core.errors import Conflict, NotFound, Unprocessable
from chalicelib.core.observability import logger
from chalicelib.core.pagination import keyset_page
from chalicelib.notifications import service as notifications
from chalicelib.tickets import repository
from chalicelib.tickets.models import (
    Comment,
    CommentCreate,
    Ticket,
    TicketCreate,
    TicketDetail,
    TicketListQuery,
    TicketPage,
)

TARGET = "support_ticket"
CONFIRMATION_TEMPLATE = "support_ticket_created"
CONFIRMATION_TEXT = """We received your support request and will get back to you.

Ticket:   {id}
Subject:  {subject}
Priority: {priority}

Reply by adding a comment to the ticket (POST /support-tickets/{id}/comments).
"""


def create_ticket(customer_id: uuid.UUID, request: TicketCreate) -> Ticket:
    """Open a ticket for ``customer_id``; audited, and a confirmation e-mail queued to the customer."""
    actor = context.current_actor()
    with db.tenant_transaction(customer_id, actor=actor) as conn:
        row = repository.insert_ticket(
            conn,
            customer_id=customer_id,
            subject=request.subject,
            body=request.body,
            priority=request.priority,
            created_by=actor,
        )
        recorder.record(
            conn,
            customer_id=customer_id,
            action="support_ticket.created",
            target_type=TARGET,
            target_id=row["id"],
            detail={"priority": row["priority"]},
        )
        _queue_confirmation(conn, customer_id, row)
    logger.info("support ticket opened", extra={"ticket_id": str(row["id"]), "priority": row["priority"]})
    return Ticket.model_validate(row)


def _queue_confirmation(conn: Connection, customer_id: uuid.UUID, ticket: dict[str, Any]) -> None:
    """Queue the "we received your ticket" e-mail to the customer's address, in the ticket's transaction.

    The notifications job delivers it (every few minutes) and records the
    outcome; the request does not wait for SES. An address the mailer refuses
    is logged, never a reason to lose the ticket.
    """
    recipient = repository.customer_email(conn, customer_id)
    if recipient is None:
        return
    reference = str(ticket["id"])[:8]
    try:
        notifications.queue_email(
            conn,
            customer_id=customer_id,
            template=CONFIRMATION_TEMPLATE,
            recipient=recipient,
            subject=f"[Ticket {reference}] We received your support request",
            text_body=CONFIRMATION_TEXT.format(id=ticket["id"], subject=ticket["subject"], priority=ticket["priority"]),
            idempotency_key=f"{CONFIRMATION_TEMPLATE}:{ticket['id']}",
            related_type=TARGET,
            related_id=ticket["id"],
        )
    except Unprocessable as exc:
        logger.warning("ticket confirmation not queued", extra={"ticket_id": str(ticket["id"]), "reason": exc.message})


def list_tickets(customer_id: uuid.UUID, query: TicketListQuery) -> TicketPage:
    """The customer's tickets, newest first, ``query.limit`` at a time."""
    with db.tenant_transaction(customer_id) as conn:
        rows, next_cursor = keyset_page(
            query, lambda limit, after: repository.list_tickets(conn, limit=limit, status=query.status, after=after)
        )
    return TicketPage(items=[Ticket.model_validate(row) for row in rows], next_cursor=next_cursor)


def get_ticket(customer_id: uuid.UUID, ticket_id: uuid.UUID) -> TicketDetail:
    """One ticket with its comments, oldest comment first; 404 if it is not the customer's."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.get_ticket(conn, ticket_id)
        if row is None:
            raise NotFound("Support ticket not found")
        comments = repository.list_comments(conn, ticket_id)
    return TicketDetail.model_validate({**row, "comments": comments})


def add_comment(customer_id: uuid.UUID, ticket_id: uuid.UUID, request: CommentCreate) -> Comment:
    """Comment on an open ticket; 404 if it is not the customer's, 409 if it is closed. Audited (not the text)."""
    actor = context.current_actor()
    with db.tenant_transaction(customer_id, actor=actor) as conn:
        ticket = repository.lock_ticket(conn, ticket_id)
        if ticket is None:
            raise NotFound("Support ticket not found")
        if ticket["status"] != "open":
            raise Conflict("Support ticket is closed")
        row = repository.insert_comment(
            conn, ticket_id=ticket_id, customer_id=ticket["customer_id"], author=actor, body=request.body
        )
        repository.touch_ticket(conn, ticket_id)
        recorder.record(
            conn,
            customer_id=customer_id,
            action="support_ticket.comment_added",
            target_type=TARGET,
            target_id=ticket_id,
            detail={"comment_id": str(row["id"])},
        )
    return Comment.model_validate(row)


def close_ticket(customer_id: uuid.UUID, ticket_id: uuid.UUID) -> Ticket:
    """Close a ticket (idempotent: closing a closed ticket returns it unchanged, unaudited)."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.close_ticket(conn, ticket_id)
        if row is not None:
            recorder.record(
                conn, customer_id=customer_id, action="support_ticket.closed", target_type=TARGET, target_id=ticket_id
            )
        else:
            row = repository.get_ticket(conn, ticket_id)
            if row is None:
                raise NotFound("Support ticket not found")
    return Ticket.model_validate(row)
