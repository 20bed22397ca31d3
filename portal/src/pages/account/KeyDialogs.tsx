/**
 * The API-keys page's dialogs: create, rotate (with an overlap), revoke, and the
 * one that shows a new key's secret — the only time the API ever returns it
 * (only a hash is stored), so the dialog says so and offers a copy button.
 */
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import type { Role } from "../../session/permissions";
import { Alert, Button, Dialog, SecretValue, Select, TextInput, formatDateTime } from "../../ui";
import { defaultGrantableRole, grantableRoleOptions, isRole, roleLabel } from "./roles";

export type ApiKey = components["schemas"]["ApiKeyResponse"];
export type NewApiKey = components["schemas"]["NewApiKeyResponse"];

export const apiKeysQueryKey = ["api-keys"] as const;

/** A key just made: its secret, and when it replaced another, until when that one still works. */
export interface IssuedKey {
  key: NewApiKey;
  replaced?: { name: string; prefix: string; worksUntil: string | null };
}

const NAME_MAX = 100;

/** "2026-12-31" (a date input's value) → the end of that day in UTC, as the API wants it. */
function endOfDayUtc(day: string): string | null {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) ? `${day}T23:59:59Z` : null;
}

export function CreateKeyDialog({ open, granter, onClose, onCreated }: { open: boolean; granter: Role | null; onClose: () => void; onCreated: (issued: IssuedKey) => void }) {
  const formId = useId();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role | null>(() => defaultGrantableRole(granter, "developer"));
  const [expires, setExpires] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: (body: { name: string; role: Role; expires_at: string | null }) => unwrap(api.POST("/api-keys", { body })),
    onSuccess: async (key) => {
      await queryClient.invalidateQueries({ queryKey: apiKeysQueryKey });
      setName("");
      setExpires("");
      onCreated({ key });
    },
  });
  const close = () => {
    create.reset();
    setProblem(null);
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (trimmed === "") return setProblem("Give the key a name, e.g. where it is used.");
    if (role === null) return setProblem("Your role may not create API keys.");
    const expiresAt = expires === "" ? null : endOfDayUtc(expires);
    if (expires !== "" && (expiresAt === null || Date.parse(expiresAt) <= Date.now())) return setProblem("Pick an expiry date in the future, or leave it empty.");
    setProblem(null);
    create.mutate({ name: trimmed, role, expires_at: expiresAt });
  };
  return (
    <Dialog
      open={open}
      title="Create an API key"
      onClose={close}
      footer={
        <>
          <Button variant="secondary" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" form={formId} loading={create.isPending}>
            Create key
          </Button>
        </>
      }
    >
      <form id={formId} className="form" onSubmit={submit} noValidate>
        {problem ? <Alert tone="error">{problem}</Alert> : null}
        {create.error ? <Alert tone="error" title="The key was not created">{errorMessage(create.error)}</Alert> : null}
        <TextInput label="Name" name="key-name" required maxLength={NAME_MAX} value={name} onChange={(e) => setName(e.target.value)} hint="Where the key is used, e.g. “CI pipeline”." />
        <Select
          label="Role"
          name="key-role"
          value={role ?? ""}
          onChange={(e) => setRole(isRole(e.target.value) ? e.target.value : null)}
          options={grantableRoleOptions(granter)}
          hint="What the key may do. A key's role is never above your own."
        />
        <TextInput label="Expires on (optional)" name="key-expires" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} hint="At the end of that day (UTC). Empty: the key works until it is revoked." />
      </form>
    </Dialog>
  );
}

/** How long the old key keeps working after a rotation (the contract allows 0 to 7 days). */
const OVERLAPS = [
  { value: "0", label: "No overlap: revoke the old key now" },
  { value: "3600", label: "1 hour" },
  { value: "86400", label: "24 hours" },
  { value: "259200", label: "3 days" },
  { value: "604800", label: "7 days" },
] as const;

export function RotateKeyDialog({ apiKey, onClose, onRotated }: { apiKey: ApiKey | null; onClose: () => void; onRotated: (issued: IssuedKey) => void }) {
  const formId = useId();
  const queryClient = useQueryClient();
  const [overlap, setOverlap] = useState("86400");
  const rotate = useMutation({
    mutationFn: ({ key, seconds }: { key: ApiKey; seconds: number }) =>
      unwrap(api.POST("/api-keys/{key_id}/rotate", { params: { path: { key_id: key.id } }, body: { overlap_seconds: seconds } })),
    onSuccess: async (created, { key, seconds }) => {
      await queryClient.invalidateQueries({ queryKey: apiKeysQueryKey });
      onRotated({ key: created, replaced: { name: key.name, prefix: key.prefix, worksUntil: seconds === 0 ? null : new Date(Date.now() + seconds * 1000).toISOString() } });
    },
  });
  const close = () => {
    rotate.reset();
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (apiKey) rotate.mutate({ key: apiKey, seconds: Number(overlap) });
  };
  return (
    <Dialog
      open={apiKey !== null}
      title="Rotate API key"
      onClose={close}
      footer={
        <>
          <Button variant="secondary" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" form={formId} loading={rotate.isPending}>
            Rotate key
          </Button>
        </>
      }
    >
      {apiKey ? (
        <form id={formId} className="form" onSubmit={submit} noValidate>
          <p>
            A new key replaces <strong>{apiKey.name}</strong> (<code>{apiKey.prefix}</code>), with the same name and role ({roleLabel(apiKey.role)}). Keep the old
            one working long enough to deploy the new one everywhere.
          </p>
          {rotate.error ? <Alert tone="error" title="The key was not rotated">{errorMessage(rotate.error)}</Alert> : null}
          <Select label="Old key keeps working for" name="overlap" value={overlap} onChange={(e) => setOverlap(e.target.value)} options={OVERLAPS} />
        </form>
      ) : null}
    </Dialog>
  );
}

export function RevokeKeyDialog({ apiKey, onClose, onRevoked }: { apiKey: ApiKey | null; onClose: () => void; onRevoked: (key: ApiKey) => void }) {
  const queryClient = useQueryClient();
  const revoke = useMutation({
    mutationFn: (key: ApiKey) => unwrap(api.DELETE("/api-keys/{key_id}", { params: { path: { key_id: key.id } } })),
    onSuccess: async (_, key) => {
      await queryClient.invalidateQueries({ queryKey: apiKeysQueryKey });
      onRevoked(key);
    },
  });
  const close = () => {
    revoke.reset();
    onClose();
  };
  return (
    <Dialog
      open={apiKey !== null}
      title="Revoke API key"
      onClose={close}
      footer={
        <>
          <Button variant="secondary" onClick={close}>
            Cancel
          </Button>
          <Button variant="danger" loading={revoke.isPending} onClick={() => apiKey && revoke.mutate(apiKey)}>
            Revoke key
          </Button>
        </>
      }
    >
      {apiKey ? (
        <div className="stack">
          <p>
            Revoke <strong>{apiKey.name}</strong> (<code>{apiKey.prefix}</code>)? It stops working at once, and so does every session made with it. This cannot be
            undone.
          </p>
          {revoke.error ? <Alert tone="error" title="The key was not revoked">{errorMessage(revoke.error)}</Alert> : null}
        </div>
      ) : null}
    </Dialog>
  );
}

/** The new key's secret, shown once. */
export function NewKeyDialog({ issued, onClose }: { issued: IssuedKey | null; onClose: () => void }) {
  return (
    <Dialog
      open={issued !== null}
      title={issued?.replaced ? "Your rotated API key" : "Your new API key"}
      onClose={onClose}
      footer={<Button onClick={onClose}>I have copied the key</Button>}
    >
      {issued ? (
        <div className="stack">
          <Alert tone="warning" title="Copy this key now: you won't see it again">
            We keep only a fingerprint of it, so it cannot be shown later. If it is lost, rotate or revoke the key and make a new one.
          </Alert>
          <p>
            <strong>{issued.key.name}</strong> · role {roleLabel(issued.key.role)}
            {issued.key.expires_at ? ` · expires ${formatDateTime(issued.key.expires_at)}` : ""}
          </p>
          <SecretValue value={issued.key.key} label="Key" />
          {issued.replaced ? (
            <p className="muted">
              The old key (<code>{issued.replaced.prefix}</code>){" "}
              {issued.replaced.worksUntil ? `keeps working until ${formatDateTime(issued.replaced.worksUntil)}.` : "no longer works."}
            </p>
          ) : null}
        </div>
      ) : null}
    </Dialog>
  );
}
