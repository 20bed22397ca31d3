"""Support tickets through the service layer, against the real PostgreSQL (app role, RLS)."""

import uuid

import psycopg
import pytest

from chalicelib.core import context
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.pagination import encode_cursor
from chalicelib.tickets import service
from chalicelib.tickets.models import CommentCreate, TicketCreate, TicketListQuery


@pytest.fixture
def as_customer(stack):
    """Act as a customer principal (what the authentication guard would set)."""
    tokens = []

    def act(customer_id):
        tokens.append(
            context.set_principal(
                context.Principal(role="customer", subject=customer_id, key_id=uuid.uuid4(), session_id="test")
            )
        )
        return customer_id

    yield act
    for token in reversed(tokens):
        context.reset_principal(token)


def _open(customer_id, subject="Printer on fire", priority="high"):
    return service.create_ticket(customer_id, TicketCreate(subject=subject, body="It is on fire.", priority=priority))


def _audit(admin_url, customer_id):
    with psycopg.connect(admin_url) as conn:
        return conn.execute(
            "SELECT action, target_id, actor, detail FROM audit_events WHERE customer_id = %s ORDER BY chain_seq",
            (customer_id,),
        ).fetchall()


def test_opening_a_ticket_stores_it_and_audits_it(make_customer, as_customer, admin_url):
    customer = as_customer(make_customer())
    ticket = _open(customer)
    assert ticket.customer_id == customer
    assert (ticket.subject, ticket.priority, ticket.status, ticket.closed_at) == (
        "Printer on fire",
        "high",
        "open",
        None,
    )
    assert ticket.created_by.startswith(f"customer:{customer}/key:")
    assert _audit(admin_url, customer) == [
        ("support_ticket.created", str(ticket.id), ticket.created_by, {"priority": "high"})
    ]


def test_priority_defaults_to_normal(make_customer, as_customer):
    customer = as_customer(make_customer())
    ticket = service.create_ticket(customer, TicketCreate(subject="s", body="b"))
    assert ticket.priority == "normal"


def test_listing_pages_newest_first_without_gaps_or_repeats(make_customer, as_customer):
    customer = as_customer(make_customer())
    opened = [_open(customer, subject=f"ticket {i}").id for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        page = service.list_tickets(customer, TicketListQuery(limit=2, cursor=cursor))
        pages += 1
        seen += [t.id for t in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(opened))


def test_a_full_last_page_has_no_next_cursor(make_customer, as_customer):
    customer = as_customer(make_customer())
    for i in range(2):
        _open(customer, subject=f"t{i}")
    page = service.list_tickets(customer, TicketListQuery(limit=2))
    assert len(page.items) == 2 and page.next_cursor is None


def test_listing_filters_by_status(make_customer, as_customer):
    customer = as_customer(make_customer())
    first, second = _open(customer), _open(customer)
    service.close_ticket(customer, first.id)
    assert [t.id for t in service.list_tickets(customer, TicketListQuery(status="closed")).items] == [first.id]
    assert [t.id for t in service.list_tickets(customer, TicketListQuery(status="open")).items] == [second.id]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        encode_cursor("x"),
        encode_cursor("2026-01-01T00:00:00+00:00", "not-a-uuid"),
        encode_cursor("yesterday", str(uuid.uuid4())),
        encode_cursor("2026-01-01T00:00:00", str(uuid.uuid4())),
    ],
)
def test_a_malformed_cursor_is_a_bad_request(make_customer, as_customer, cursor):
    customer = as_customer(make_customer())
    with pytest.raises(BadRequest):
        service.list_tickets(customer, TicketListQuery(cursor=cursor))


def test_a_ticket_reads_back_with_its_comments_oldest_first(make_customer, as_customer):
    customer = as_customer(make_customer())
    ticket = _open(customer)
    first = service.add_comment(customer, ticket.id, CommentCreate(body="first"))
    second = service.add_comment(customer, ticket.id, CommentCreate(body="second"))
    detail = service.get_ticket(customer, ticket.id)
    assert [c.id for c in detail.comments] == [first.id, second.id]
    assert detail.comments[0].author.startswith(f"customer:{customer}/")
    assert detail.updated_at >= second.created_at


def test_closing_is_audited_once_and_idempotent(make_customer, as_customer, admin_url):
    customer = as_customer(make_customer())
    ticket = _open(customer)
    closed = service.close_ticket(customer, ticket.id)
    assert closed.status == "closed" and closed.closed_at is not None
    again = service.close_ticket(customer, ticket.id)
    assert again.closed_at == closed.closed_at
    assert [row[0] for row in _audit(admin_url, customer)] == ["support_ticket.created", "support_ticket.closed"]


def test_a_closed_ticket_takes_no_comments(make_customer, as_customer):
    customer = as_customer(make_customer())
    ticket = _open(customer)
    service.close_ticket(customer, ticket.id)
    with pytest.raises(Conflict):
        service.add_comment(customer, ticket.id, CommentCreate(body="hello?"))


def test_another_tenants_ticket_does_not_exist(make_customer, as_customer, admin_url):
    owner = as_customer(make_customer())
    ticket = _open(owner)
    intruder = as_customer(make_customer())
    with pytest.raises(NotFound):
        service.get_ticket(intruder, ticket.id)
    with pytest.raises(NotFound):
        service.add_comment(intruder, ticket.id, CommentCreate(body="mine now"))
    with pytest.raises(NotFound):
        service.close_ticket(intruder, ticket.id)
    assert service.list_tickets(intruder, TicketListQuery()).items == []
    # Nothing leaked into the owner's ticket either.
    detail = service.get_ticket(owner, ticket.id)
    assert detail.status == "open" and detail.comments == []
    assert _audit(admin_url, intruder) == []


def test_an_unknown_ticket_is_not_found(make_customer, as_customer):
    customer = as_customer(make_customer())
    with pytest.raises(NotFound):
        service.get_ticket(customer, uuid.uuid4())


def _notifications(admin_url, customer_id):
    with psycopg.connect(admin_url) as conn:
        return conn.execute(
            "SELECT template, recipient, subject, status, related_type, related_id, idempotency_key"
            " FROM notifications WHERE customer_id = %s",
            (customer_id,),
        ).fetchall()


def test_opening_a_ticket_queues_a_confirmation_to_the_customers_address(make_customer, as_customer, admin_url):
    customer = as_customer(make_customer(email="ops@acme.example"))
    ticket = _open(customer, subject="Line one\nline two")
    [(template, recipient, subject, status, related_type, related_id, key)] = _notifications(admin_url, customer)
    assert (template, recipient, status, related_type, related_id) == (
        "support_ticket_created",
        "ops@acme.example",
        "queued",
        "support_ticket",
        ticket.id,
    )
    assert "\n" not in subject and str(ticket.id)[:8] in subject
    assert key == f"support_ticket_created:{ticket.id}"


def test_the_queued_confirmation_is_delivered_and_the_delivery_audited(make_customer, as_customer, admin_url):
    from chalicelib.notifications import service as notifications

    customer = as_customer(make_customer())
    ticket = _open(customer)
    report = notifications.deliver_pending(customer_id=customer)
    assert report.sent == 1
    assert _notifications(admin_url, customer)[0][3] == "sent"
    assert ("support_ticket.emailed", str(ticket.id)) in [(a, t) for a, t, _, _ in _audit(admin_url, customer)]


def test_an_address_the_mailer_refuses_does_not_lose_the_ticket(make_customer, as_customer, admin_url):
    customer = as_customer(make_customer(email=f"{'x' * 70}@example.test"))  # local part over 64
    ticket = _open(customer)
    assert service.get_ticket(customer, ticket.id).id == ticket.id
    assert _notifications(admin_url, customer) == []
