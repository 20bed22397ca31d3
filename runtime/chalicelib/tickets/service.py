"""Support tickets: open, list, read, comment on, close.

Each function is one unit of work in the caller's ``tenant_transaction``; the
audit events (``support_ticket.created`` / ``.closed``) commit with the change.
"""
from __future__ import annotations

import uuid

from chalicelib.audit import recorder
from chalicelib.core import db
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.observability import logger
from chalicelib.core.pagination import decode_keyset, encode_keyset
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


def create_ticket(customer_id: uuid.UUID, request: TicketCreate) -> Ticket:
    """Open a ticket for ``customer_id``; audited, and the customer is e-mailed."""
    actor = recorder.current_actor()
    with db.tenant_transaction(customer_id) as conn:
        row = repository.insert_ticket(conn, customer_id=customer_id, subject=request.subject, body=request.body,
                                       priority=request.priority, created_by=actor)
        recorder.record(conn, customer_id=customer_id, action="support_ticket.created", target_type=TARGET,
                        target_id=row["id"], detail={"priority": row["priority"]}, actor=actor)
        # TODO(issue 6, notifications): queue the "support ticket received" e-mail to the
        # customer's address through the notifications service (billing branch,
        # chalicelib/notifications) in this same transaction, once it is on main.
    logger.info("support ticket opened", extra={"ticket_id": str(row["id"]), "priority": row["priority"]})
    return Ticket.model_validate(row)


def list_tickets(customer_id: uuid.UUID, query: TicketListQuery) -> TicketPage:
    """The customer's tickets, newest first, ``query.limit`` at a time."""
    after = decode_keyset(query.cursor)
    with db.tenant_transaction(customer_id) as conn:
        rows = repository.list_tickets(conn, limit=query.limit + 1, status=query.status, after=after)
    items, more = rows[: query.limit], len(rows) > query.limit
    next_cursor = encode_keyset(items[-1]["created_at"], items[-1]["id"]) if more else None
    return TicketPage(items=[Ticket.model_validate(row) for row in items], next_cursor=next_cursor)


def get_ticket(customer_id: uuid.UUID, ticket_id: uuid.UUID) -> TicketDetail:
    """One ticket with its comments, oldest comment first; 404 if it is not the customer's."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.get_ticket(conn, ticket_id)
        if row is None:
            raise NotFound("Support ticket not found")
        comments = repository.list_comments(conn, ticket_id)
    return TicketDetail.model_validate({**row, "comments": comments})


def add_comment(customer_id: uuid.UUID, ticket_id: uuid.UUID, request: CommentCreate) -> Comment:
    """Comment on an open ticket; 404 if it is not the customer's, 409 if it is closed."""
    actor = recorder.current_actor()
    with db.tenant_transaction(customer_id) as conn:
        ticket = repository.lock_ticket(conn, ticket_id)
        if ticket is None:
            raise NotFound("Support ticket not found")
        if ticket["status"] != "open":
            raise Conflict("Support ticket is closed")
        row = repository.insert_comment(conn, ticket_id=ticket_id, customer_id=ticket["customer_id"], author=actor,
                                        body=request.body)
        repository.touch_ticket(conn, ticket_id)
    return Comment.model_validate(row)


def close_ticket(customer_id: uuid.UUID, ticket_id: uuid.UUID) -> Ticket:
    """Close a ticket (idempotent: closing a closed ticket returns it unchanged, unaudited)."""
    with db.tenant_transaction(customer_id) as conn:
        row = repository.close_ticket(conn, ticket_id)
        if row is not None:
            recorder.record(conn, customer_id=customer_id, action="support_ticket.closed", target_type=TARGET,
                            target_id=ticket_id)
        else:
            row = repository.get_ticket(conn, ticket_id)
            if row is None:
                raise NotFound("Support ticket not found")
    return Ticket.model_validate(row)
