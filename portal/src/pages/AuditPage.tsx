/**
 * /audit (owners and admins): the organization's audit trail, newest first,
 * paged with the API's cursor, and the chain head to keep outside the platform.
 * The API filters the trail by nothing but the cursor, so the page offers no
 * filters that would only act on the rows already loaded.
 */
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { useCursorList } from "../api/hooks";
import { unwrap } from "../api/errors";
import { Button, Card, EmptyState, ErrorAlert, Loading, PageHeader, Pagination, Table, formatDate, type Column } from "../ui";
import { ChainHeadCard, chainHeadQueryKey } from "./audit/ChainHeadCard";
import { actionLabel, detailLines, formatTime, targetLabel, type AuditEvent } from "./audit/auditFormat";
import { describeActor, useActorDirectory, type ActorDirectory } from "./support/actors";

const PAGE_SIZE = 50;
export const auditQueryKey = ["audit-events", "list"] as const;

function columns(directory: ActorDirectory): Column<AuditEvent>[] {
  return [
    {
      key: "when",
      header: "When",
      render: (e) => (
        <time dateTime={e.occurred_at}>
          {formatDate(e.occurred_at)}
          <br />
          <span className="muted small">{formatTime(e.occurred_at)}</span>
        </time>
      ),
    },
    {
      key: "actor",
      header: "Who",
      render: (e) => {
        const who = describeActor(e.actor, directory);
        return (
          <>
            {who.name}
            {who.detail ? <div className="muted small">{who.detail}</div> : null}
          </>
        );
      },
    },
    {
      key: "action",
      header: "What",
      render: (e) => (
        <>
          {actionLabel(e.action)}
          <div className="muted small mono">{e.action}</div>
        </>
      ),
    },
    { key: "target", header: "On", render: (e) => targetLabel(e) },
    {
      key: "detail",
      header: "Details",
      render: (e) => {
        const lines = detailLines(e.detail);
        return lines.length === 0 ? (
          <span className="muted">—</span>
        ) : (
          <div className="small">
            {lines.map((line) => (
              <div key={line}>{line}</div>
            ))}
          </div>
        );
      },
    },
  ];
}

export function AuditPage() {
  const queryClient = useQueryClient();
  const directory = useActorDirectory();
  const events = useCursorList(auditQueryKey, (cursor) =>
    unwrap(api.GET("/audit-events", { params: { query: { limit: PAGE_SIZE, cursor } } })),
  );

  return (
    <>
      <PageHeader
        title="Audit trail"
        description="Who did what in your organization's account, newest first. Events are kept for 7 years."
        actions={
          <Button
            variant="secondary"
            onClick={() => {
              void queryClient.invalidateQueries({ queryKey: auditQueryKey });
              void queryClient.invalidateQueries({ queryKey: chainHeadQueryKey });
            }}
          >
            Refresh
          </Button>
        }
      />
      <div className="stack">
        <ChainHeadCard />
        <Card title="Events">
          {events.error ? (
            <ErrorAlert error={events.error} title="Could not load the audit trail" onRetry={events.refetch} />
          ) : events.isLoading ? (
            <Loading label="Loading the audit trail…" />
          ) : events.items.length === 0 ? (
            <EmptyState title="No events yet">Sign-ins, changes to keys, people and settings appear here.</EmptyState>
          ) : (
            <>
              <Table caption="Audit events" columns={columns(directory)} rows={events.items} rowKey={(e) => e.id} />
              <Pagination hasMore={events.hasMore} loading={events.isLoadingMore} onLoadMore={events.loadMore} shown={events.items.length} />
            </>
          )}
        </Card>
      </div>
    </>
  );
}
