/**
 * The team page's dialogs: invite a person, change a member's role, remove a
 * member. Role choices are only those the viewer may grant (`grantableRoles`);
 * the API still refuses anything else (403), and refuses leaving the
 * organization without an owner (409), which the dialog shows in words.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import type { Role } from "../../session/permissions";
import { Alert, Button, Dialog, Select, TextInput } from "../../ui";
import { defaultGrantableRole, grantableRoleOptions, isRole, roleLabel } from "./roles";

export type Member = components["schemas"]["UserResponse"];
export type Invitation = components["schemas"]["InvitationResponse"];

export const membersQueryKey = ["users"] as const;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function DialogButtons({ formId, busy, label, variant = "primary", onCancel }: { formId: string; busy: boolean; label: string; variant?: "primary" | "danger"; onCancel: () => void }) {
  return (
    <>
      <Button variant="secondary" onClick={onCancel}>
        Cancel
      </Button>
      <Button type="submit" form={formId} variant={variant} loading={busy}>
        {label}
      </Button>
    </>
  );
}

export function InviteDialog({ open, granter, onClose, onInvited }: { open: boolean; granter: Role | null; onClose: () => void; onInvited: (invitation: Invitation) => void }) {
  const formId = useId();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role | null>(() => defaultGrantableRole(granter, "viewer"));
  const [problem, setProblem] = useState<string | null>(null);
  const invite = useMutation({
    mutationFn: (body: { email: string; role: Role }) => unwrap(api.POST("/users/invitations", { body })),
    onSuccess: (invitation) => {
      setEmail("");
      onInvited(invitation);
    },
  });
  const close = () => {
    invite.reset();
    setProblem(null);
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const address = email.trim();
    if (!EMAIL.test(address)) return setProblem("Enter the person's e-mail address.");
    if (role === null) return setProblem("Your role may not invite people.");
    setProblem(null);
    invite.mutate({ email: address, role });
  };
  return (
    <Dialog open={open} title="Invite a person" onClose={close} footer={<DialogButtons formId={formId} busy={invite.isPending} label="Send invitation" onCancel={close} />}>
      <form id={formId} className="form" onSubmit={submit} noValidate>
        <p className="muted">They get an e-mail with a link, valid for 7 days, to choose their name and password.</p>
        {problem ? <Alert tone="error">{problem}</Alert> : null}
        {invite.error ? <Alert tone="error" title="The invitation was not sent">{errorMessage(invite.error)}</Alert> : null}
        <TextInput label="E-mail" name="invite-email" type="email" autoComplete="off" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <Select label="Role" name="invite-role" value={role ?? ""} onChange={(e) => setRole(isRole(e.target.value) ? e.target.value : null)} options={grantableRoleOptions(granter)} />
      </form>
    </Dialog>
  );
}

export function ChangeRoleDialog({ member, granter, onClose, onChanged }: { member: Member | null; granter: Role | null; onClose: () => void; onChanged: (member: Member) => void }) {
  const formId = useId();
  const queryClient = useQueryClient();
  const [role, setRole] = useState<Role | null>(null);
  const change = useMutation({
    mutationFn: ({ id, role }: { id: string; role: Role }) => unwrap(api.PATCH("/users/{user_id}", { params: { path: { user_id: id } }, body: { role } })),
    onSuccess: async (updated) => {
      await queryClient.invalidateQueries({ queryKey: membersQueryKey });
      onChanged(updated);
    },
  });
  const chosen = role ?? member?.role ?? null;
  const close = () => {
    change.reset();
    setRole(null);
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (member && chosen) change.mutate({ id: member.id, role: chosen });
  };
  return (
    <Dialog open={member !== null} title="Change role" onClose={close} footer={<DialogButtons formId={formId} busy={change.isPending} label="Save role" onCancel={close} />}>
      {member ? (
        <form id={formId} className="form" onSubmit={submit} noValidate>
          <p>
            <strong>{member.name}</strong> ({member.email}) has the role {roleLabel(member.role)}. A new role takes effect at once: they are logged out
            everywhere and log in again with it.
          </p>
          {change.error ? <Alert tone="error" title="The role was not changed">{errorMessage(change.error)}</Alert> : null}
          <Select label="New role" name="member-role" value={chosen ?? ""} onChange={(e) => setRole(isRole(e.target.value) ? e.target.value : null)} options={grantableRoleOptions(granter)} />
        </form>
      ) : null}
    </Dialog>
  );
}

export function RemoveMemberDialog({ member, onClose, onRemoved }: { member: Member | null; onClose: () => void; onRemoved: (member: Member) => void }) {
  const formId = useId();
  const queryClient = useQueryClient();
  const remove = useMutation({
    mutationFn: (target: Member) => unwrap(api.DELETE("/users/{user_id}", { params: { path: { user_id: target.id } } })),
    onSuccess: async (_, target) => {
      await queryClient.invalidateQueries({ queryKey: membersQueryKey });
      onRemoved(target);
    },
  });
  const close = () => {
    remove.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (member) remove.mutate(member);
  };
  return (
    <Dialog
      open={member !== null}
      title="Remove member"
      onClose={close}
      footer={<DialogButtons formId={formId} busy={remove.isPending} label="Remove member" variant="danger" onCancel={close} />}
    >
      {member ? (
        <form id={formId} className="stack" onSubmit={submit} noValidate>
          <p>
            Remove <strong>{member.name}</strong> ({member.email}) from your organization? They are logged out at once and can no longer log in. To bring them back,
            invite them again.
          </p>
          {remove.error ? <Alert tone="error" title="The member was not removed">{errorMessage(remove.error)}</Alert> : null}
        </form>
      ) : null}
    </Dialog>
  );
}
