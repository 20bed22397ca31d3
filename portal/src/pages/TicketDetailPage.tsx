/**
 * /tickets/:id: one support ticket — its fields, the description, the
 * conversation, a comment form while it is open, and "Close ticket" (closing
 * is final: the API has no reopen, so the page asks first). Roles that may not
 * write tickets read only.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api } from "../api/client";
import { errorMessage, unwrap } from "../api/errors";
import { useSession } from "../session/useSession";
import { Alert, Button, Card, Dialog, PageHeader, QueryState, formatDateTime } from "../ui";
import { describeActor, useActorDirectory, type ActorDirectory } from "./support/actors";
import { AddCommentForm, CommentList } from "./support/CommentThread";
import { MultilineText, PriorityBadge, StatusBadge, ticketKeys, ticketReference, type TicketDetail } from "./support/ticketParts";

function TicketFacts({ ticket, directory }: { ticket: TicketDetail; directory: ActorDirectory }) {
  const opener = describeActor(ticket.created_by, directory);
  return (
    <Card title="Details">
      <dl className="dl">
        <dt>Status</dt>
        <dd>
          <StatusBadge status={ticket.status} />
        </dd>
        <dt>Priority</dt>
        <dd>
          <PriorityBadge priority={ticket.priority} />
        </dd>
        <dt>Reference</dt>
        <dd className="mono">#{ticketReference(ticket.id)}</dd>
        <dt>Opened by</dt>
        <dd>
          {opener.name}
          {opener.detail ? <span className="muted"> ({opener.detail})</span> : null}
        </dd>
        <dt>Opened</dt>
        <dd>{formatDateTime(ticket.created_at)}</dd>
        <dt>Last activity</dt>
        <dd>{formatDateTime(ticket.updated_at)}</dd>
        {ticket.closed_at ? (
          <>
            <dt>Closed</dt>
            <dd>{formatDateTime(ticket.closed_at)}</dd>
          </>
        ) : null}
      </dl>
    </Card>
  );
}

export function TicketDetailPage() {
  const { id = "" } = useParams();
  const session = useSession();
  const mayWrite = session.can("tickets_write");
  const queryClient = useQueryClient();
  const directory = useActorDirectory();
  const [confirming, setConfirming] = useState(false);

  const ticket = useQuery({
    queryKey: ticketKeys.detail(id),
    queryFn: () => unwrap(api.GET("/support-tickets/{id}", { params: { path: { id } } })),
  });

  const close = useMutation({
    mutationFn: () => unwrap(api.PATCH("/support-tickets/{id}", { params: { path: { id } }, body: { status: "closed" } })),
    onSuccess: () => {
      setConfirming(false);
      void queryClient.invalidateQueries({ queryKey: ticketKeys.all });
    },
  });

  const data = ticket.data;
  const isOpen = data?.status === "open";

  return (
    <>
      <p className="small">
        <Link to="/tickets">← All support tickets</Link>
      </p>
      <PageHeader
        title={data ? data.subject : "Support ticket"}
        description={data ? `Ticket #${ticketReference(data.id)} · opened ${formatDateTime(data.created_at)}` : undefined}
        actions={
          data && isOpen && mayWrite ? (
            <Button variant="secondary" onClick={() => setConfirming(true)}>
              Close ticket
            </Button>
          ) : null
        }
      />
      <QueryState query={ticket} loadingLabel="Loading the ticket…" errorTitle="Could not load the ticket">
        {(t) => (
          <div className="stack">
            {close.isSuccess && t.status === "closed" ? <Alert tone="success">Ticket closed. Open a new ticket if you need more help.</Alert> : null}
            <TicketFacts ticket={t} directory={directory} />
            <Card title="Description">
              <MultilineText text={t.body} />
            </Card>
            <Card title="Conversation">
              <div className="stack">
                <CommentList comments={t.comments} directory={directory} />
                {t.status === "closed" ? (
                  <Alert tone="info">This ticket is closed and takes no more comments. Open a new ticket if you need more help.</Alert>
                ) : mayWrite ? (
                  <AddCommentForm ticketId={t.id} />
                ) : null}
              </div>
            </Card>
          </div>
        )}
      </QueryState>
      <Dialog
        open={confirming}
        title="Close this ticket?"
        onClose={() => {
          if (!close.isPending) setConfirming(false);
        }}
        footer={
          <>
            <Button variant="secondary" disabled={close.isPending} onClick={() => setConfirming(false)}>
              Keep it open
            </Button>
            <Button variant="danger" loading={close.isPending} onClick={() => close.mutate()}>
              Close ticket
            </Button>
          </>
        }
      >
        <p>A closed ticket cannot be reopened or commented on. If the problem comes back, open a new ticket.</p>
        {close.isError ? (
          <Alert tone="error" title="The ticket was not closed">
            {errorMessage(close.error)}
          </Alert>
        ) : null}
      </Dialog>
    </>
  );
}
