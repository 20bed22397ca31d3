/**
 * MFA once it is on: turning it off (with a current code or a recovery code;
 * the API then ends every session of the person, so the page sends them to log
 * in again), and the organization's `require_mfa` for owners and admins.
 */
import { useMutation } from "@tanstack/react-query";
import { useId, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { useSession } from "../../session/useSession";
import { Alert, Badge, Button, Card, Dialog, TextInput } from "../../ui";
import { useLogInAgain } from "./logInAgain";

export function DisableMfaDialog({ open, tenantRequiresMfa, onClose }: { open: boolean; tenantRequiresMfa: boolean; onClose: () => void }) {
  const formId = useId();
  const logInAgain = useLogInAgain();
  const [code, setCode] = useState("");
  const [leaving, setLeaving] = useState(false);
  const disable = useMutation({
    mutationFn: (value: string) => unwrap(api.DELETE("/users/me/mfa", { body: { code: value } })),
  });
  const close = () => {
    disable.reset();
    setCode("");
    onClose();
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (code.trim() !== "") disable.mutate(code.replace(/\s+/g, ""));
  };
  const logIn = () => {
    setLeaving(true);
    void logInAgain("Two-factor authentication is off: log in with your password.", { sessionAlreadyEnded: true });
  };
  if (disable.isSuccess) {
    return (
      <Dialog open={open} title="Two-factor authentication is off" onClose={logIn} footer={<Button loading={leaving} onClick={logIn}>Log in again</Button>}>
        <Alert tone="success">Your recovery codes no longer work, and you have been logged out everywhere. Log in again with your password.</Alert>
      </Dialog>
    );
  }
  return (
    <Dialog
      open={open}
      title="Turn off two-factor authentication"
      onClose={close}
      footer={
        <>
          <Button variant="secondary" onClick={close}>
            Cancel
          </Button>
          <Button type="submit" form={formId} variant="danger" loading={disable.isPending} disabled={code.trim() === ""}>
            Turn off
          </Button>
        </>
      }
    >
      <form id={formId} className="form" onSubmit={submit} noValidate>
        <p>Your account will be protected by your password alone, and you will be logged out everywhere.</p>
        {tenantRequiresMfa ? (
          <Alert tone="warning">Your organization requires two-factor authentication: you will have to set it up again before you can use the portal.</Alert>
        ) : null}
        {disable.error ? (
          <Alert tone="error">{disable.error instanceof ApiError && disable.error.status === 400 ? "That code was not accepted. Enter the newest code from your app, or an unused recovery code." : errorMessage(disable.error)}</Alert>
        ) : null}
        <TextInput
          label="Code from your app, or a recovery code"
          name="mfa-disable-code"
          autoComplete="one-time-code"
          autoCapitalize="off"
          spellCheck={false}
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
      </form>
    </Dialog>
  );
}

/** The organization's rule (owners and admins): everyone logs in with a second factor. */
export function RequireMfaCard() {
  const session = useSession();
  const required = session.customer?.require_mfa ?? false;
  const ownMfa = session.user?.mfa_enabled ?? false;
  const [notice, setNotice] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: (value: boolean) => unwrap(api.PATCH("/customers/me", { body: { require_mfa: value } })),
    onSuccess: async (tenant) => {
      await session.reload();
      setNotice(
        tenant.require_mfa
          ? "Two-factor authentication is now required: people without it can only set it up until they have."
          : "Two-factor authentication is no longer required.",
      );
    },
  });
  // Requiring it without having it would lock this very session out at its next request.
  const blocked = !required && !ownMfa;
  return (
    <Card title="Organization" actions={required ? <Badge tone="success">Required</Badge> : <Badge>Not required</Badge>}>
      <div className="stack">
        <p>When two-factor authentication is required, everyone at {session.customer?.name ?? "your organization"} must log in with a code; people without it can only set it up.</p>
        {notice ? <Alert tone="success">{notice}</Alert> : null}
        {change.error ? <Alert tone="error" title="The setting was not changed">{errorMessage(change.error)}</Alert> : null}
        {blocked ? <p className="muted">Turn on your own two-factor authentication first, so that requiring it does not lock you out.</p> : null}
        <div>
          <Button
            variant={required ? "secondary" : "primary"}
            loading={change.isPending}
            disabled={blocked}
            onClick={() => {
              setNotice(null);
              change.mutate(!required);
            }}
          >
            {required ? "Stop requiring 2FA" : "Require 2FA for everyone"}
          </Button>
        </div>
      </div>
    </Card>
  );
}
