/**
 * /security: the person's own two-factor authentication (set up with a QR code,
 * recovery codes shown once; turn off with a code) and, for owners and admins,
 * the organization's `require_mfa`.
 *
 * While the organization requires MFA and this person has none
 * (`session.mfaEnrolmentRequired`), this is the only page the portal offers: it
 * says why, and enrolment ends with a new login that includes the code.
 */
import { useState } from "react";
import { useSession } from "../session/useSession";
import { Alert, Badge, Button, Card, PageHeader } from "../ui";
import { MfaEnrolment } from "./account/MfaEnrolment";
import { DisableMfaDialog, RequireMfaCard } from "./account/MfaSettings";

export function SecurityPage() {
  const session = useSession();
  const [disabling, setDisabling] = useState(false);
  // Just enrolled: the session (about to end) still says "off", the badge already says "on".
  const [justEnabled, setJustEnabled] = useState(false);
  const enabled = session.user?.mfa_enabled ?? false;
  const account = session.user?.email ?? "your account";

  return (
    <>
      <PageHeader title="Security" description={`Login protection for ${account}.`} />
      <div className="stack">
        {session.mfaEnrolmentRequired ? (
          <Alert tone="warning" title="Your organization requires two-factor authentication">
            Set it up below to use the portal. Until then, this is the only page available.
          </Alert>
        ) : null}
        <Card title="Two-factor authentication (2FA)" actions={enabled || justEnabled ? <Badge tone="success">On</Badge> : <Badge>Off</Badge>}>
          {enabled ? (
            <div className="stack">
              <p>You log in with your password and a 6-digit code from your authenticator app (or, once each, one of your recovery codes).</p>
              <div>
                <Button variant="danger" onClick={() => setDisabling(true)}>
                  Turn off 2FA
                </Button>
              </div>
            </div>
          ) : (
            <MfaEnrolment account={account} onEnabled={() => setJustEnabled(true)} />
          )}
        </Card>
        {session.can("users") ? <RequireMfaCard /> : null}
      </div>
      <DisableMfaDialog open={disabling} tenantRequiresMfa={session.customer?.require_mfa ?? false} onClose={() => setDisabling(false)} />
    </>
  );
}
