/**
 * One endpoint's delivery attempts, newest first, a page at a time (the API's
 * cursor), each with "Retry": the event is sent again now and the new attempt
 * joins the list. Automatic retries (with backoff) show up here too; "Refresh"
 * reloads the list.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { useCursorList } from "../../api/hooks";
import type { components } from "../../api/schema";
import { Alert, Badge, Button, Card, EmptyState, ErrorAlert, Pagination, QueryState, Table, formatDateTime, type Column } from "../../ui";
import { BreakableUrl } from "./BreakableUrl";

type Endpoint = components["schemas"]["EndpointResponse"];
type Delivery = components["schemas"]["DeliveryResponse"];

const PAGE_SIZE = 20;

export const deliveriesKey = (endpointId: string) => ["webhook-endpoints", endpointId, "deliveries"] as const;

function answer(d: Delivery): string {
  return d.status_code === null ? "No answer" : `HTTP ${d.status_code}`;
}

function ResultBadge({ delivery }: { delivery: Delivery }) {
  return delivery.succeeded ? <Badge tone="success">Delivered</Badge> : <Badge tone="danger">Failed</Badge>;
}

export function Deliveries({ endpoint }: { endpoint: Endpoint }) {
  const queryClient = useQueryClient();
  const key = deliveriesKey(endpoint.id);
  const deliveries = useCursorList(key, (cursor) =>
    unwrap(
      api.GET("/webhook-endpoints/{endpoint_id}/deliveries", {
        params: { path: { endpoint_id: endpoint.id }, query: { cursor, limit: PAGE_SIZE } },
      }),
    ),
  );
  const retry = useMutation({
    mutationFn: (d: Delivery) =>
      unwrap(
        api.POST("/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry", {
          params: { path: { endpoint_id: endpoint.id, delivery_id: d.id } },
        }),
      ),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: key }),
  });

  const columns: readonly Column<Delivery>[] = [
    { key: "event", header: "Event", render: (d) => <span className="mono">{d.event_type}</span> },
    { key: "attempt", header: "Attempt", align: "right", render: (d) => d.attempt },
    { key: "result", header: "Result", render: (d) => <ResultBadge delivery={d} /> },
    { key: "answer", header: "Response", render: answer },
    { key: "sent", header: "Sent", render: (d) => formatDateTime(d.created_at) },
    { key: "next", header: "Next attempt", render: (d) => (d.next_attempt_at ? formatDateTime(d.next_attempt_at) : "—") },
    {
      key: "retry",
      header: "Actions",
      align: "right",
      render: (d) => (
        <Button
          variant="secondary"
          size="sm"
          aria-label={`Retry ${d.event_type} (attempt ${d.attempt})`}
          loading={retry.isPending && retry.variables?.id === d.id}
          onClick={() => retry.mutate(d)}
        >
          Retry
        </Button>
      ),
    },
  ];

  return (
    <Card
      title="Deliveries"
      actions={
        <Button variant="secondary" size="sm" aria-label="Refresh deliveries" onClick={deliveries.refetch}>
          Refresh
        </Button>
      }
    >
      <div className="stack">
        <p className="muted small">
          To <BreakableUrl url={endpoint.url} />
        </p>
        {retry.isSuccess ? (
          <Alert tone={retry.data.succeeded ? "success" : "warning"} title={retry.data.succeeded ? "Delivered" : "Still failing"}>
            {retry.data.event_type} was sent again: {answer(retry.data)}.
          </Alert>
        ) : null}
        {retry.error ? <ErrorAlert error={retry.error} title="The delivery was not retried" /> : null}
        <QueryState
          query={{ data: deliveries.isLoading ? undefined : deliveries.items, error: deliveries.error, isPending: deliveries.isLoading, refetch: deliveries.refetch }}
          loadingLabel="Loading deliveries…"
          errorTitle="Could not load the deliveries"
          isEmpty={(items) => items.length === 0}
          empty={<EmptyState title="No deliveries yet">Events this endpoint subscribes to appear here once they are sent.</EmptyState>}
        >
          {(items) => (
            <>
              <Table caption={`Deliveries to ${endpoint.url}`} columns={columns} rows={items} rowKey={(d) => d.id} />
              <Pagination hasMore={deliveries.hasMore} loading={deliveries.isLoadingMore} onLoadMore={deliveries.loadMore} label="Load more deliveries" />
            </>
          )}
        </QueryState>
      </div>
    </Card>
  );
}
