"""Support tickets: ``/support-tickets`` (customer role; RLS confines every call to the caller's tenant)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.core.context import current_customer_id
from chalicelib.core.http import path_uuid, route
from chalicelib.tickets import service
from chalicelib.tickets.models import (
    Comment,
    CommentCreate,
    Ticket,
    TicketCreate,
    TicketDetail,
    TicketListQuery,
    TicketPage,
    TicketUpdate,
)

bp = Blueprint(__name__)
TAGS = ("support",)


@route(
    bp,
    "/support-tickets",
    method="POST",
    auth="customer",
    body=TicketCreate,
    response=Ticket,
    status=201,
    summary="Open a support ticket (the customer is e-mailed a confirmation)",
    tags=TAGS,
)
def create_ticket(body: TicketCreate) -> Ticket:
    return service.create_ticket(current_customer_id(), body)


@route(
    bp,
    "/support-tickets",
    auth="customer",
    query=TicketListQuery,
    response=TicketPage,
    summary="The customer's support tickets, newest first",
    tags=TAGS,
)
def list_tickets(query: TicketListQuery) -> TicketPage:
    return service.list_tickets(current_customer_id(), query)


@route(
    bp,
    "/support-tickets/{id}",
    auth="customer",
    response=TicketDetail,
    summary="One support ticket with its comments",
    tags=TAGS,
)
def get_ticket(id: str) -> TicketDetail:
    return service.get_ticket(current_customer_id(), path_uuid(id))


@route(
    bp,
    "/support-tickets/{id}/comments",
    method="POST",
    auth="customer",
    body=CommentCreate,
    response=Comment,
    status=201,
    summary="Comment on an open support ticket",
    tags=TAGS,
    errors=(409,),
)
def add_comment(id: str, body: CommentCreate) -> Comment:
    return service.add_comment(current_customer_id(), path_uuid(id), body)


@route(
    bp,
    "/support-tickets/{id}",
    method="PATCH",
    auth="customer",
    body=TicketUpdate,
    response=Ticket,
    summary='Close a support ticket (body {"status": "closed"})',
    tags=TAGS,
)
def update_ticket(id: str, body: TicketUpdate) -> Ticket:
    return service.close_ticket(current_customer_id(), path_uuid(id))
