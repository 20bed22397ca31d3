/**
 * /team (owners and admins): the organization's people, invite someone, change a
 * member's role, remove a member.
 *
 * A member is manageable when `canManageMember` says so (an admin never touches
 * an owner); one's own row has no actions, so nobody locks themselves out from
 * here. The API has no list of pending invitations: a sent invitation is
 * confirmed on the page, and the person appears in the list once they accept.
 */
import { useState } from "react";
import { api } from "../api/client";
import { unwrap } from "../api/errors";
import { useCursorList } from "../api/hooks";
import { canManageMember } from "../session/permissions";
import { useSession } from "../session/useSession";
import { Alert, Badge, Button, Card, EmptyState, ErrorAlert, Loading, PageHeader, Pagination, Table, formatDate, formatDateTime, type Column } from "../ui";
import { RoleBadge, roleLabel } from "./account/roles";
import { ChangeRoleDialog, InviteDialog, RemoveMemberDialog, membersQueryKey, type Member } from "./account/TeamDialogs";

const PAGE_SIZE = 50;

export function TeamPage() {
  const session = useSession();
  const members = useCursorList<Member>(membersQueryKey, (cursor) => unwrap(api.GET("/users", { params: { query: { cursor, limit: PAGE_SIZE } } })));
  const [inviting, setInviting] = useState(false);
  const [changing, setChanging] = useState<Member | null>(null);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const me = session.user?.id;

  const columns: Column<Member>[] = [
    {
      key: "person",
      header: "Person",
      render: (m) => (
        <>
          <div>
            {m.name}
            {m.id === me ? <span className="muted"> (you)</span> : null}
          </div>
          <div className="muted small">{m.email}</div>
        </>
      ),
    },
    { key: "role", header: "Role", render: (m) => <RoleBadge role={m.role} /> },
    { key: "mfa", header: "Two-factor", render: (m) => (m.mfa_enabled ? <Badge tone="success">On</Badge> : <Badge>Off</Badge>) },
    { key: "login", header: "Last login", render: (m) => (m.last_login_at ? formatDateTime(m.last_login_at) : "Never") },
    { key: "joined", header: "Joined", render: (m) => formatDate(m.created_at) },
    {
      key: "actions",
      header: "Actions",
      render: (m) =>
        m.id !== me && canManageMember(session.role, m.role) ? (
          <div className="row">
            <Button variant="secondary" size="sm" aria-label={`Change role of ${m.name}`} onClick={() => setChanging(m)}>
              Change role
            </Button>
            <Button variant="danger" size="sm" aria-label={`Remove ${m.name}`} onClick={() => setRemoving(m)}>
              Remove
            </Button>
          </div>
        ) : null,
    },
  ];

  const inviteButton = (
    <Button
      onClick={() => {
        setNotice(null);
        setInviting(true);
      }}
    >
      Invite a person
    </Button>
  );

  return (
    <>
      <PageHeader
        title="Team"
        description={
          session.role === "admin"
            ? "The people of your organization and their roles. As an admin you manage everyone but owners."
            : "The people of your organization and their roles."
        }
        actions={inviteButton}
      />
      <div className="stack">
        {notice ? <Alert tone="success">{notice}</Alert> : null}
        <Card title="Members">
          {members.error ? (
            <ErrorAlert error={members.error} title="Could not load the team" onRetry={members.refetch} />
          ) : members.isLoading ? (
            <Loading label="Loading the team…" />
          ) : members.items.length === 0 ? (
            <EmptyState title="No members yet" action={inviteButton}>
              Invite the people who work with the portal.
            </EmptyState>
          ) : (
            <>
              <Table caption="Members" columns={columns} rows={members.items} rowKey={(m) => m.id} />
              <Pagination hasMore={members.hasMore} loading={members.isLoadingMore} onLoadMore={members.loadMore} shown={members.items.length} />
            </>
          )}
        </Card>
      </div>
      <InviteDialog
        open={inviting}
        granter={session.role}
        onClose={() => setInviting(false)}
        onInvited={(invitation) => {
          setInviting(false);
          setNotice(
            `Invitation sent to ${invitation.email} as ${roleLabel(invitation.role).toLowerCase()}. The link works until ${formatDateTime(invitation.expires_at)}; they appear here once they accept.`,
          );
        }}
      />
      <ChangeRoleDialog
        member={changing}
        granter={session.role}
        onClose={() => setChanging(null)}
        onChanged={(member) => {
          setChanging(null);
          setNotice(`${member.name} now has the role ${roleLabel(member.role)}.`);
        }}
      />
      <RemoveMemberDialog
        member={removing}
        onClose={() => setRemoving(null)}
        onRemoved={(member) => {
          setRemoving(null);
          setNotice(`${member.name} (${member.email}) was removed from your organization.`);
        }}
      />
    </>
  );
}
