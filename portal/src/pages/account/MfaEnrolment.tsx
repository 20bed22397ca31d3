/**
 * Enrolling in TOTP MFA, in three steps:
 *
 * 1. `POST /users/me/mfa` → a pending secret: its `otpauth_uri` as a QR code
 *    (drawn by `qrcode` into a data: URL — the CSP allows `img-src data:`; the
 *    library is loaded only here, so it stays out of the main bundle), and the
 *    secret as text for apps that cannot scan;
 * 2. a code from the app → `POST /users/me/mfa/confirm` → ten recovery codes,
 *    shown once, with copy and download;
 * 3. log in again: the session was opened with a password alone, and a tenant
 *    requiring MFA accepts only sessions opened with a code.
 */
import { useMutation } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { Alert, Button, CopyButton, Loading, SecretValue, TextInput } from "../../ui";
import { useLogInAgain } from "./logInAgain";

type Enrolment = components["schemas"]["MfaEnrolment"];

const QR_SIZE = 208;

function useQrCode(text: string): { url: string | null; failed: boolean } {
  const [state, setState] = useState<{ text: string; url: string | null; failed: boolean }>({ text: "", url: null, failed: false });
  useEffect(() => {
    let live = true;
    import("qrcode")
      .then(({ toDataURL }) => toDataURL(text, { errorCorrectionLevel: "M", margin: 2, width: QR_SIZE }))
      .then((url) => live && setState({ text, url, failed: false }))
      .catch(() => live && setState({ text, url: null, failed: true }));
    return () => {
      live = false;
    };
  }, [text]);
  return state.text === text ? state : { url: null, failed: false };
}

function confirmError(error: unknown): string {
  if (error instanceof ApiError && error.status === 400) return "That code was not accepted. Check the time on your phone and enter the newest code.";
  if (error instanceof ApiError && error.status === 409) return `${error.message} Start again if needed.`;
  return errorMessage(error);
}

/** Step 1 → 2: the QR code, the secret, and the code that confirms them. */
function ScanStep({ enrolment, onConfirmed, onCancel }: { enrolment: Enrolment; onConfirmed: (codes: string[]) => void; onCancel: () => void }) {
  const qr = useQrCode(enrolment.otpauth_uri);
  const [code, setCode] = useState("");
  const confirm = useMutation({
    mutationFn: (value: string) => unwrap(api.POST("/users/me/mfa/confirm", { body: { code: value } })),
    onSuccess: (answer) => onConfirmed(answer.recovery_codes),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (code.trim() !== "") confirm.mutate(code.replace(/\s+/g, ""));
  };
  return (
    <div className="stack">
      <p>1. Scan this QR code with an authenticator app (1Password, Google Authenticator, Authy…).</p>
      {qr.url ? (
        <img src={qr.url} width={QR_SIZE} height={QR_SIZE} alt="QR code to add this account to your authenticator app" />
      ) : qr.failed ? (
        <Alert tone="warning">The QR code could not be drawn: enter the setup key below instead.</Alert>
      ) : (
        <Loading label="Drawing the QR code…" />
      )}
      <p className="muted">Can't scan it? Enter this setup key in the app (time-based, 6 digits, 30 seconds):</p>
      <SecretValue value={enrolment.secret} label="Setup key" />
      <form className="form" onSubmit={submit} noValidate>
        <p>2. Enter the 6-digit code the app shows.</p>
        {confirm.error ? <Alert tone="error">{confirmError(confirm.error)}</Alert> : null}
        <TextInput
          label="Code from your app"
          name="mfa-code"
          inputMode="numeric"
          autoComplete="one-time-code"
          required
          value={code}
          onChange={(e) => setCode(e.target.value)}
        />
        <div className="row">
          <Button type="submit" loading={confirm.isPending} disabled={code.trim() === ""}>
            Turn on 2FA
          </Button>
          <Button variant="ghost" onClick={onCancel}>
            Cancel
          </Button>
        </div>
      </form>
    </div>
  );
}

/** The recovery codes, once: a list, a copy button, a text file to download. */
export function RecoveryCodes({ codes, account }: { codes: readonly string[]; account: string }) {
  const text = [`Recovery codes for ${account}`, "Each code works once, in place of a code from your app.", "", ...codes, ""].join("\n");
  return (
    <div className="stack">
      <ol aria-label="Recovery codes">
        {codes.map((code) => (
          <li key={code}>
            <code>{code}</code>
          </li>
        ))}
      </ol>
      <div className="row">
        <CopyButton value={codes.join("\n")} label="Copy recovery codes" />
        <a className="btn btn-secondary btn-sm" href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`} download="recovery-codes.txt">
          Download as text
        </a>
      </div>
    </div>
  );
}

/** Step 3: the codes, and the way back in with the second factor. */
function DoneStep({ codes, account }: { codes: string[]; account: string }) {
  const logInAgain = useLogInAgain();
  const [busy, setBusy] = useState(false);
  return (
    <div className="stack">
      <Alert tone="success" title="Two-factor authentication is on">
        From now on you log in with your password and a code from your app.
      </Alert>
      <Alert tone="warning" title="Save your recovery codes now: you won't see them again">
        If you lose your phone, each of these codes lets you log in once. Keep them somewhere safe, apart from your phone.
      </Alert>
      <RecoveryCodes codes={codes} account={account} />
      <p>3. When your codes are safe, log in again with your password and a code from your app.</p>
      <div>
        <Button
          loading={busy}
          onClick={() => {
            setBusy(true);
            void logInAgain("Two-factor authentication is on: log in with your password and a code from your app.");
          }}
        >
          Codes saved: log in again
        </Button>
      </div>
    </div>
  );
}

type Step = { kind: "start" } | { kind: "scan"; enrolment: Enrolment } | { kind: "done"; codes: string[] };

export function MfaEnrolment({ account, onEnabled }: { account: string; onEnabled: () => void }) {
  const [step, setStep] = useState<Step>({ kind: "start" });
  const start = useMutation({
    mutationFn: () => unwrap(api.POST("/users/me/mfa")),
    onSuccess: (enrolment) => setStep({ kind: "scan", enrolment }),
  });
  if (step.kind === "scan") return <ScanStep enrolment={step.enrolment} onConfirmed={(codes) => {
          setStep({ kind: "done", codes });
          onEnabled();
        }} onCancel={() => setStep({ kind: "start" })} />;
  if (step.kind === "done") return <DoneStep codes={step.codes} account={account} />;
  return (
    <div className="stack">
      <p>Protect your account with a second step at login: a 6-digit code from an authenticator app on your phone.</p>
      {start.error ? <Alert tone="error" title="Could not start the set-up">{errorMessage(start.error)}</Alert> : null}
      <div>
        <Button loading={start.isPending} onClick={() => start.mutate()}>
          Set up 2FA
        </Button>
      </div>
    </div>
  );
}
