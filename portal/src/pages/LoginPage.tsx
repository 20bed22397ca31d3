/**
 * /login: e-mail and password, then (when the API answers `mfa_required`) the MFA
 * step, where the code field takes a 6-digit TOTP or a recovery code. On success
 * it returns to the page the route guard came from.
 */
import { useState, type FormEvent } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router-dom";
import { ApiError, errorMessage } from "../api/errors";
import { PublicPage } from "../layout/PublicPage";
import { useSession } from "../session/useSession";
import { Alert, Button, TextInput } from "../ui";

type Step = { kind: "credentials" } | { kind: "mfa"; mfaToken: string };

function returnPath(state: unknown): string {
  if (typeof state === "object" && state !== null && "from" in state) {
    const from = (state as { from: unknown }).from;
    if (typeof from === "string" && from.startsWith("/") && !from.startsWith("//") && from !== "/login") return from;
  }
  return "/";
}

/** The message a page that sent the person here left in the navigation state (e.g. after MFA changed). */
function noticeOf(state: unknown): string | null {
  if (typeof state === "object" && state !== null && "notice" in state) {
    const notice = (state as { notice: unknown }).notice;
    if (typeof notice === "string" && notice !== "") return notice;
  }
  return null;
}

function loginError(error: unknown): string {
  if (error instanceof ApiError && error.status === 401) return "Wrong e-mail or password.";
  return errorMessage(error);
}

function mfaError(error: unknown): string {
  if (error instanceof ApiError && (error.status === 401 || error.status === 400)) {
    return "That code was not accepted. Check it and try again; if this keeps happening, start again from the e-mail step.";
  }
  return errorMessage(error);
}

export function LoginPage() {
  const session = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  const [step, setStep] = useState<Step>({ kind: "credentials" });
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const target = returnPath(location.state);
  const notice = noticeOf(location.state);

  if (session.status === "authenticated") return <Navigate to={target} replace />;

  const submitCredentials = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const result = await session.login(email.trim(), password);
      if (result.kind === "mfa") {
        setStep({ kind: "mfa", mfaToken: result.mfaToken });
        setCode("");
      } else {
        navigate(target, { replace: true });
      }
    } catch (err) {
      setError(loginError(err));
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (event: FormEvent) => {
    event.preventDefault();
    if (step.kind !== "mfa") return;
    setError(null);
    setBusy(true);
    try {
      await session.completeMfa(step.mfaToken, code.trim());
      navigate(target, { replace: true });
    } catch (err) {
      setError(mfaError(err));
    } finally {
      setBusy(false);
    }
  };

  if (step.kind === "mfa") {
    return (
      <PublicPage title="Two-factor authentication">
        <p className="muted">Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
        <form className="form" onSubmit={(e) => void submitCode(e)} noValidate>
          {error ? <Alert tone="error">{error}</Alert> : null}
          <TextInput
            label="Authentication code"
            name="code"
            autoComplete="one-time-code"
            autoCapitalize="off"
            spellCheck={false}
            required
            autoFocus
            value={code}
            onChange={(e) => setCode(e.target.value)}
            hint="A code from your app, or a recovery code (each recovery code works once)."
          />
          <Button type="submit" loading={busy} disabled={code.trim() === ""}>
            Verify
          </Button>
          <Button
            variant="ghost"
            onClick={() => {
              setStep({ kind: "credentials" });
              setError(null);
              setPassword("");
            }}
          >
            Back to e-mail and password
          </Button>
        </form>
      </PublicPage>
    );
  }

  return (
    <PublicPage title="Log in">
      {notice ? <Alert tone="info">{notice}</Alert> : null}
      {session.endReason === "expired" && !notice ? (
        <Alert tone="info">Your session has ended. Please log in again.</Alert>
      ) : null}
      <form className="form" onSubmit={(e) => void submitCredentials(e)} noValidate>
        {error ? <Alert tone="error">{error}</Alert> : null}
        <TextInput label="E-mail" name="email" type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        <TextInput
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <Button type="submit" loading={busy} disabled={email.trim() === "" || password === ""}>
          Log in
        </Button>
      </form>
      <div className="auth-links">
        <Link to="/reset-password">Forgot your password?</Link>
      </div>
    </PublicPage>
  );
}
