/**
 * /webhooks: the tenant's webhook endpoints (create with the signing secret shown
 * once, delete), and the deliveries of the one picked (`?endpoint=<id>`, so a
 * reload keeps it), each retryable.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import { useCursorList } from "../api/hooks";
import type { components } from "../api/schema";
import { Button, Card, Dialog, EmptyState, ErrorAlert, PageHeader, Pagination, QueryState, Table, formatDate, type Column } from "../ui";
import { CreateEndpointDialog, ENDPOINTS_KEY } from "./webhooks/CreateEndpointDialog";
import { BreakableUrl } from "./webhooks/BreakableUrl";
import { Deliveries } from "./webhooks/Deliveries";

type Endpoint = components["schemas"]["EndpointResponse"];

export function WebhooksPage() {
  const queryClient = useQueryClient();
  const [params, setParams] = useSearchParams();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Endpoint | null>(null);
  const endpoints = useCursorList(ENDPOINTS_KEY, (cursor) => unwrap(api.GET("/webhook-endpoints", { params: { query: { cursor, limit: 50 } } })));
  const selectedId = params.get("endpoint");
  const selected = endpoints.items.find((e) => e.id === selectedId) ?? null;

  const select = (id: string | null) => {
    const next = new URLSearchParams(params);
    if (id) next.set("endpoint", id);
    else next.delete("endpoint");
    setParams(next, { replace: true });
  };

  const remove = useMutation({
    mutationFn: (endpoint: Endpoint) => unwrap(api.DELETE("/webhook-endpoints/{endpoint_id}", { params: { path: { endpoint_id: endpoint.id } } })),
    onSuccess: (_, endpoint) => {
      if (endpoint.id === selectedId) select(null);
      setDeleting(null);
      void queryClient.invalidateQueries({ queryKey: ENDPOINTS_KEY });
    },
  });
  const closeDelete = () => {
    setDeleting(null);
    remove.reset();
  };

  const columns: readonly Column<Endpoint>[] = [
    {
      key: "url",
      header: "Endpoint",
      render: (e) => (
        <>
          <BreakableUrl url={e.url} />
          {e.description ? <p className="muted small">{e.description}</p> : null}
        </>
      ),
    },
    { key: "events", header: "Events", render: (e) => <span className="mono small">{e.events.join(", ")}</span> },
    { key: "created", header: "Created", render: (e) => formatDate(e.created_at) },
    {
      key: "actions",
      header: "Actions",
      align: "right",
      render: (e) => (
        <span className="row">
          <Button
            variant="secondary"
            size="sm"
            aria-label={`Deliveries to ${e.url}`}
            aria-pressed={e.id === selectedId}
            onClick={() => select(e.id === selectedId ? null : e.id)}
          >
            Deliveries
          </Button>
          <Button variant="secondary" size="sm" aria-label={`Delete ${e.url}`} onClick={() => setDeleting(e)}>
            Delete
          </Button>
        </span>
      ),
    },
  ];

  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Endpoints of yours that receive events as signed POST requests (Standard Webhooks), with every delivery attempt."
        actions={<Button onClick={() => setCreating(true)}>Add endpoint</Button>}
      />
      <div className="stack">
        <Card title="Endpoints">
          <QueryState
            query={{ data: endpoints.isLoading ? undefined : endpoints.items, error: endpoints.error, isPending: endpoints.isLoading, refetch: endpoints.refetch }}
            loadingLabel="Loading endpoints…"
            errorTitle="Could not load your endpoints"
            isEmpty={(items) => items.length === 0}
            empty={
              <EmptyState title="No endpoints yet" action={<Button onClick={() => setCreating(true)}>Add endpoint</Button>}>
                Add one to receive invoice, usage and API key events.
              </EmptyState>
            }
          >
            {(items) => (
              <>
                <Table caption="Webhook endpoints" columns={columns} rows={items} rowKey={(e) => e.id} />
                <Pagination hasMore={endpoints.hasMore} loading={endpoints.isLoadingMore} onLoadMore={endpoints.loadMore} label="Load more endpoints" />
              </>
            )}
          </QueryState>
        </Card>
        {selected ? <Deliveries key={selected.id} endpoint={selected} /> : null}
      </div>
      <CreateEndpointDialog open={creating} onClose={() => setCreating(false)} />
      <Dialog
        open={deleting !== null}
        title="Delete this endpoint?"
        onClose={closeDelete}
        footer={
          <>
            <Button variant="secondary" onClick={closeDelete} disabled={remove.isPending}>
              Cancel
            </Button>
            <Button variant="danger" loading={remove.isPending} onClick={() => deleting && remove.mutate(deleting)}>
              Delete endpoint
            </Button>
          </>
        }
      >
        {remove.error ? <ErrorAlert error={remove.error} title="The endpoint was not deleted" /> : null}
        <p>
          No more events will be sent to <BreakableUrl url={deleting?.url ?? ""} />; its deliveries are no longer listed.
        </p>
      </Dialog>
    </>
  );
}
