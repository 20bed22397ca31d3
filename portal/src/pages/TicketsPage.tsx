/**
 * /tickets: the organization's support tickets, newest first, filtered by status
 * (kept in the URL, so Back returns to the same list) and paged with the API's
 * cursor. Roles that may write tickets get "Open a ticket"; a viewer reads only.
 */
import { Link, useSearchParams } from "react-router-dom";
import { useState } from "react";
import { api } from "../api/client";
import { useCursorList } from "../api/hooks";
import { unwrap } from "../api/errors";
import { useSession } from "../session/useSession";
import { Alert, Button, Card, EmptyState, ErrorAlert, Loading, PageHeader, Pagination, Select, Table, formatDateTime, type Column } from "../ui";
import { OpenTicketDialog } from "./support/OpenTicketDialog";
import { PriorityBadge, StatusBadge, isTicketStatus, ticketKeys, ticketReference, type Ticket, type TicketStatus } from "./support/ticketParts";

const PAGE_SIZE = 25;

const STATUS_OPTIONS = [
  { value: "", label: "All tickets" },
  { value: "open", label: "Open" },
  { value: "closed", label: "Closed" },
] as const;

// Three columns (status and priority share one) so the subject keeps its width on a phone.
const COLUMNS: readonly Column<Ticket>[] = [
  {
    key: "subject",
    header: "Subject",
    render: (t) => (
      <>
        <Link to={`/tickets/${t.id}`}>{t.subject}</Link>
        <div className="muted small">
          <span className="mono">#{ticketReference(t.id)}</span> · opened {formatDateTime(t.created_at)}
        </div>
      </>
    ),
  },
  {
    key: "status",
    header: "Status",
    render: (t) => (
      <div className="row">
        <StatusBadge status={t.status} />
        <PriorityBadge priority={t.priority} />
      </div>
    ),
  },
  { key: "updated", header: "Last activity", render: (t) => formatDateTime(t.updated_at) },
];

function emptyTitle(status: TicketStatus | null): string {
  if (status === "open") return "No open tickets";
  if (status === "closed") return "No closed tickets";
  return "No support tickets yet";
}

export function TicketsPage() {
  const session = useSession();
  const mayWrite = session.can("tickets_write");
  const [params, setParams] = useSearchParams();
  const raw = params.get("status");
  const status = isTicketStatus(raw) ? raw : null;
  const [dialogOpen, setDialogOpen] = useState(false);
  const [opened, setOpened] = useState<Ticket | null>(null);

  const tickets = useCursorList(ticketKeys.list(status), (cursor) =>
    unwrap(api.GET("/support-tickets", { params: { query: { limit: PAGE_SIZE, cursor, ...(status ? { status } : {}) } } })),
  );

  const openButton = mayWrite ? <Button onClick={() => setDialogOpen(true)}>Open a ticket</Button> : null;

  return (
    <>
      <PageHeader
        title="Support tickets"
        description="Questions and problems for our support team, each with its conversation in one place."
        actions={openButton}
      />
      <div className="stack">
        {opened ? (
          <Alert
            tone="success"
            title="Ticket opened"
            action={
              <Button variant="ghost" size="sm" onClick={() => setOpened(null)}>
                Dismiss
              </Button>
            }
          >
            <Link to={`/tickets/${opened.id}`}>{opened.subject}</Link> (#{ticketReference(opened.id)}) is open. A confirmation is on its way by e-mail.
          </Alert>
        ) : null}
        {!mayWrite ? (
          <Alert tone="info">Your role ({session.role ?? "none"}) can read tickets but not open or answer them.</Alert>
        ) : null}
        <Card
          title="Tickets"
          actions={
            <Select
              label="Status"
              options={STATUS_OPTIONS}
              value={status ?? ""}
              onChange={(e) => {
                const next = new URLSearchParams(params);
                if (e.target.value) next.set("status", e.target.value);
                else next.delete("status");
                setParams(next, { replace: true });
              }}
            />
          }
        >
          {tickets.error ? (
            <ErrorAlert error={tickets.error} title="Could not load the tickets" onRetry={tickets.refetch} />
          ) : tickets.isLoading ? (
            <Loading label="Loading tickets…" />
          ) : tickets.items.length === 0 ? (
            <EmptyState title={emptyTitle(status)} action={status === null ? openButton : undefined}>
              {status === null ? "When you need help, open a ticket: its details and comments stay together here." : "Choose “All tickets” to see the others."}
            </EmptyState>
          ) : (
            <>
              <Table caption="Support tickets" columns={COLUMNS} rows={tickets.items} rowKey={(t) => t.id} />
              <Pagination hasMore={tickets.hasMore} loading={tickets.isLoadingMore} onLoadMore={tickets.loadMore} shown={tickets.items.length} />
            </>
          )}
        </Card>
      </div>
      {mayWrite ? (
        <OpenTicketDialog
          open={dialogOpen}
          onClose={() => setDialogOpen(false)}
          onOpened={(ticket) => {
            setDialogOpen(false);
            setOpened(ticket);
          }}
        />
      ) : null}
    </>
  );
}
