/**
 * The audit chain's head (GET /audit-events/head): every event is hashed
 * together with the one before it, so the newest hash vouches for the whole
 * trail. A copy kept outside the platform lets the customer prove later that
 * nothing before it was changed or removed — which a copy kept here could not.
 */
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Card, CopyButton, EmptyState, QueryState, formatDateTime, formatNumber } from "../../ui";

export const chainHeadQueryKey = ["audit-events", "head"] as const;

export function ChainHeadCard() {
  const head = useQuery({ queryKey: chainHeadQueryKey, queryFn: () => unwrap(api.GET("/audit-events/head")) });
  return (
    <Card title="Chain head">
      <p className="muted">
        Keep a copy outside the platform: each event is hashed with the one before it, so a copy we cannot touch proves later that no
        earlier event was changed or removed.
      </p>
      <QueryState
        query={head}
        loadingLabel="Reading the chain head…"
        errorTitle="Could not read the chain head"
        isEmpty={(h) => h.last_hash === null}
        empty={<EmptyState title="No events yet">The chain starts with your organization's first audited action.</EmptyState>}
      >
        {(h) => (
          <dl className="dl">
            <dt>Events in the chain</dt>
            <dd>{formatNumber(h.count)}</dd>
            <dt>Newest event</dt>
            <dd className="mono">{h.last_event_id}</dd>
            <dt>Read at</dt>
            <dd>{formatDateTime(h.as_of)}</dd>
            <dt>Newest hash (SHA-256)</dt>
            <dd className="secret">
              <code className="secret-value">{h.last_hash}</code>
              <CopyButton
                label="Copy chain head"
                value={JSON.stringify({ count: h.count, last_event_id: h.last_event_id, last_hash: h.last_hash, as_of: h.as_of })}
              />
            </dd>
          </dl>
        )}
      </QueryState>
    </Card>
  );
}
