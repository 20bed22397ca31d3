/**
 * /api-keys: the tenant's keys (newest first, cursor-paginated, revoked and
 * expired ones included), each with its role and status; create, rotate with an
 * overlap, revoke. A new key's secret is shown once, in a dialog.
 *
 * Only keys whose role the viewer may grant get Rotate/Revoke (the API refuses
 * the others with 403: a developer may not cut off an admin's integration).
 */
import { useState } from "react";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import { useCursorList } from "../api/hooks";
import { mayGrant } from "../session/permissions";
import { useSession } from "../session/useSession";
import { Alert, Badge, Button, Card, EmptyState, ErrorAlert, Loading, PageHeader, Pagination, Table, formatDate, formatDateTime, type BadgeTone, type Column } from "../ui";
import { CreateKeyDialog, NewKeyDialog, RevokeKeyDialog, RotateKeyDialog, apiKeysQueryKey, type ApiKey, type IssuedKey } from "./account/KeyDialogs";
import { RoleBadge } from "./account/roles";

const PAGE_SIZE = 25;

type KeyState = "active" | "rotating" | "revoked" | "expired";

function keyState(key: ApiKey, now: number): KeyState {
  if (key.revoked_at && Date.parse(key.revoked_at) <= now) return "revoked";
  if (key.expires_at && Date.parse(key.expires_at) <= now) return "expired";
  if (key.revoked_at) return "rotating";
  return "active";
}

const STATE_BADGE: Record<KeyState, { label: string; tone: BadgeTone }> = {
  active: { label: "Active", tone: "success" },
  rotating: { label: "Rotating out", tone: "warning" },
  revoked: { label: "Revoked", tone: "danger" },
  expired: { label: "Expired", tone: "neutral" },
};

/** The moment the key stops (or stopped) working, if any. */
function endsAt(key: ApiKey, state: KeyState): string {
  if (state === "revoked") return `Revoked ${formatDateTime(key.revoked_at)}`;
  if (state === "rotating") return `Works until ${formatDateTime(key.revoked_at)}`;
  return key.expires_at ? formatDateTime(key.expires_at) : "Never";
}

export function ApiKeysPage() {
  const session = useSession();
  const keys = useCursorList<ApiKey>(apiKeysQueryKey, (cursor) => unwrap(api.GET("/api-keys", { params: { query: { cursor, limit: PAGE_SIZE } } })));
  const [creating, setCreating] = useState(false);
  const [rotating, setRotating] = useState<ApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [issued, setIssued] = useState<IssuedKey | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const now = Date.now();

  const manageable = (key: ApiKey, state: KeyState) => (state === "active" || state === "rotating") && mayGrant(session.role, key.role);

  const columns: Column<ApiKey>[] = [
    {
      key: "name",
      header: "Name",
      render: (key) => (
        <>
          <div>{key.name}</div>
          <code className="muted">{key.prefix}…</code>
        </>
      ),
    },
    { key: "role", header: "Role", render: (key) => <RoleBadge role={key.role} /> },
    {
      key: "status",
      header: "Status",
      render: (key) => {
        const badge = STATE_BADGE[keyState(key, now)];
        return <Badge tone={badge.tone}>{badge.label}</Badge>;
      },
    },
    { key: "created", header: "Created", render: (key) => formatDate(key.created_at) },
    { key: "used", header: "Last used", render: (key) => (key.last_used_at ? formatDateTime(key.last_used_at) : "Never") },
    { key: "ends", header: "Expires", render: (key) => endsAt(key, keyState(key, now)) },
    {
      key: "actions",
      header: "Actions",
      render: (key) => {
        const state = keyState(key, now);
        if (!manageable(key, state)) return null;
        return (
          <div className="row">
            {state === "active" ? (
              <Button variant="secondary" size="sm" aria-label={`Rotate ${key.name}`} onClick={() => setRotating(key)}>
                Rotate
              </Button>
            ) : null}
            <Button variant="danger" size="sm" aria-label={`Revoke ${key.name}`} onClick={() => setRevoking(key)}>
              Revoke
            </Button>
          </div>
        );
      },
    },
  ];

  const createButton = (
    <Button
      onClick={() => {
        setNotice(null);
        setCreating(true);
      }}
    >
      Create API key
    </Button>
  );

  return (
    <>
      <PageHeader
        title="API keys"
        description="How your systems call the API. Each key has a role; its secret is shown once."
        actions={createButton}
      />
      <div className="stack">
        {notice ? <Alert tone="success">{notice}</Alert> : null}
        <Card title="Keys">
          {keys.error ? (
            <ErrorAlert error={keys.error} title="Could not load the API keys" onRetry={keys.refetch} />
          ) : keys.isLoading ? (
            <Loading label="Loading API keys…" />
          ) : keys.items.length === 0 ? (
            <EmptyState title="No API keys yet" action={createButton}>
              Create a key for each system that sends usage or reads your data, so each can be revoked on its own.
            </EmptyState>
          ) : (
            <>
              <Table caption="API keys" columns={columns} rows={keys.items} rowKey={(key) => key.id} />
              <Pagination hasMore={keys.hasMore} loading={keys.isLoadingMore} onLoadMore={keys.loadMore} shown={keys.items.length} />
            </>
          )}
        </Card>
      </div>
      <CreateKeyDialog
        open={creating}
        granter={session.role}
        onClose={() => setCreating(false)}
        onCreated={(key) => {
          setCreating(false);
          setIssued(key);
        }}
      />
      <RotateKeyDialog
        apiKey={rotating}
        onClose={() => setRotating(null)}
        onRotated={(key) => {
          setRotating(null);
          setIssued(key);
        }}
      />
      <RevokeKeyDialog
        apiKey={revoking}
        onClose={() => setRevoking(null)}
        onRevoked={(key) => {
          setRevoking(null);
          setNotice(`The key “${key.name}” (${key.prefix}) is revoked: it no longer works.`);
        }}
      />
      <NewKeyDialog issued={issued} onClose={() => setIssued(null)} />
    </>
  );
}
