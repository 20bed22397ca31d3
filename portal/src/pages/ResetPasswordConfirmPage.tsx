/**
 * Choose a new password with the e-mailed token (`/reset-password?token=…`, also
 * `/reset-password/confirm?token=…`). Success ends every session of that user.
 */
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { ApiError, errorMessage, unwrap } from "../api/errors";
import { PublicPage } from "../layout/PublicPage";
import { Alert, Button } from "../ui";
import { NewPasswordFields } from "./NewPasswordFields";
import { passwordProblem } from "./passwordRules";

export function ResetPasswordConfirmPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  if (!token) {
    return (
      <PublicPage title="Choose a new password">
        <Alert tone="error" title="This link is incomplete">
          Open the link from the e-mail again, or <Link to="/reset-password">ask for a new one</Link>.
        </Alert>
      </PublicPage>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problem = passwordProblem(password, confirm);
    if (problem) {
      setError(problem);
      return;
    }
    setError(null);
    setBusy(true);
    try {
      await unwrap(api.POST("/auth/password-reset/confirm", { body: { token, password } }));
      setDone(true);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 400 && /token|link|expired/i.test(err.message)
          ? "This reset link is invalid, already used or expired. Ask for a new one."
          : errorMessage(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicPage title="Choose a new password">
      {done ? (
        <Alert tone="success" title="Your password was changed">
          You were logged out everywhere. Log in with your new password.
        </Alert>
      ) : (
        <form className="form" onSubmit={(e) => void submit(e)} noValidate>
          {error ? <Alert tone="error">{error}</Alert> : null}
          <NewPasswordFields
            label="New password"
            password={password}
            confirm={confirm}
            onPassword={setPassword}
            onConfirm={setConfirm}
          />
          <Button type="submit" loading={busy}>
            Change password
          </Button>
        </form>
      )}
      <div className="auth-links">
        <Link to="/login">{done ? "Go to the login page" : "Back to log in"}</Link>
        {!done ? <Link to="/reset-password">Ask for a new link</Link> : null}
      </div>
    </PublicPage>
  );
}
