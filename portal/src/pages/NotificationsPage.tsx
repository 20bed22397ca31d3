/**
 * /notifications: the e-mails the platform sent (or is sending) to the
 * organization — invoices, ticket confirmations, alerts — with their delivery
 * status, newest first, paged with the API's cursor. The API keeps delivery
 * records, not an inbox: there is no read/unread state to show or change.
 */
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import { useCursorList } from "../api/hooks";
import { unwrap } from "../api/errors";
import type { components } from "../api/schema";
import { Badge, Button, Card, EmptyState, ErrorAlert, Loading, PageHeader, Pagination, Table, formatDateTime, type BadgeTone, type Column } from "../ui";

type Notification = components["schemas"]["NotificationResponse"];

const PAGE_SIZE = 25;
export const notificationsQueryKey = ["notifications", "list"] as const;

const STATUS: Record<Notification["status"], { label: string; tone: BadgeTone }> = {
  queued: { label: "Queued", tone: "info" },
  sent: { label: "Sent", tone: "success" },
  failed: { label: "Failed", tone: "danger" },
};

const TEMPLATES: Record<string, string> = {
  invoice: "Invoice",
  support_ticket_created: "Ticket confirmation",
  user_invitation: "Invitation",
  password_reset: "Password reset",
  usage_threshold_reached: "Usage alert",
  invoice_payment_failed: "Payment failed",
};

/** A template id as a kind of e-mail: known ones by name, others "some_template" → "Some template". */
function templateLabel(template: string): string {
  const known = TEMPLATES[template];
  if (known) return known;
  const words = template.replace(/[_.-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const COLUMNS: readonly Column<Notification>[] = [
  {
    key: "subject",
    header: "Subject",
    render: (n) => (
      <>
        {n.subject}
        <div className="muted small">{templateLabel(n.template)}</div>
      </>
    ),
  },
  { key: "recipient", header: "To", render: (n) => n.recipient },
  {
    key: "status",
    header: "Status",
    render: (n) => (
      <>
        <Badge tone={STATUS[n.status].tone}>{STATUS[n.status].label}</Badge>
        {n.status === "failed" && n.error ? <div className="muted small">{n.error}</div> : null}
        {n.attempts > 1 ? <div className="muted small">{n.attempts} attempts</div> : null}
      </>
    ),
  },
  { key: "created", header: "Created", render: (n) => formatDateTime(n.created_at) },
  { key: "sent", header: "Sent", render: (n) => formatDateTime(n.sent_at) },
];

export function NotificationsPage() {
  const queryClient = useQueryClient();
  const notifications = useCursorList(notificationsQueryKey, (cursor) =>
    unwrap(api.GET("/notifications", { params: { query: { limit: PAGE_SIZE, cursor } } })),
  );

  return (
    <>
      <PageHeader
        title="Notifications"
        description="E-mails we send your organization (invoices, ticket confirmations, alerts) and their delivery, newest first."
        actions={
          <Button variant="secondary" onClick={() => void queryClient.invalidateQueries({ queryKey: notificationsQueryKey })}>
            Refresh
          </Button>
        }
      />
      <Card title="E-mails">
        {notifications.error ? (
          <ErrorAlert error={notifications.error} title="Could not load the notifications" onRetry={notifications.refetch} />
        ) : notifications.isLoading ? (
          <Loading label="Loading notifications…" />
        ) : notifications.items.length === 0 ? (
          <EmptyState title="No notifications yet">Invoices, ticket confirmations and alerts we e-mail you appear here.</EmptyState>
        ) : (
          <>
            <Table caption="Notifications" columns={COLUMNS} rows={notifications.items} rowKey={(n) => n.id} />
            <Pagination hasMore={notifications.hasMore} loading={notifications.isLoadingMore} onLoadMore={notifications.loadMore} shown={notifications.items.length} />
          </>
        )}
      </Card>
    </>
  );
}
