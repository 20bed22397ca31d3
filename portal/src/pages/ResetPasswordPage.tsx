/**
 * /reset-password: ask for a reset link by e-mail. The e-mail links back here with
 * `?token=…` (runtime/chalicelib/users/emails.py: `<portal>/reset-password?token=`),
 * so with a token this page is the confirm form (also at /reset-password/confirm).
 */
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { errorMessage, unwrap } from "../api/errors";
import { PublicPage } from "../layout/PublicPage";
import { Alert, Button, TextInput } from "../ui";
import { ResetPasswordConfirmPage } from "./ResetPasswordConfirmPage";

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  if (params.get("token")) return <ResetPasswordConfirmPage />;
  return <ResetPasswordRequest />;
}

function ResetPasswordRequest() {
  const [email, setEmail] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await unwrap(api.POST("/auth/password-reset", { body: { email: email.trim() } }));
      setSent(true);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicPage title="Reset your password">
      {sent ? (
        <Alert tone="success" title="Check your e-mail">
          If an account exists for {email.trim()}, we have sent it a link to choose a new password. The link is valid for one hour.
        </Alert>
      ) : (
        <>
          <p className="muted">Enter your e-mail address and we will send you a link to choose a new password.</p>
          <form className="form" onSubmit={(e) => void submit(e)} noValidate>
            {error ? <Alert tone="error">{error}</Alert> : null}
            <TextInput label="E-mail" name="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
            <Button type="submit" loading={busy} disabled={email.trim() === ""}>
              Send reset link
            </Button>
          </form>
        </>
      )}
      <div className="auth-links">
        <Link to="/login">Back to log in</Link>
      </div>
    </PublicPage>
  );
}
