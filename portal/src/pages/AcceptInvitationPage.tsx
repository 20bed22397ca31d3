/**
 * /accept-invitation?token=…: the invitation e-mail's link. The invited person
 * picks a name and a password; then they log in (the invitation named the e-mail).
 */
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api } from "../api/client";
import { ApiError, errorMessage, unwrap } from "../api/errors";
import { PublicPage } from "../layout/PublicPage";
import { Alert, Button, TextInput } from "../ui";
import { NewPasswordFields } from "./NewPasswordFields";
import { passwordProblem } from "./passwordRules";

export function AcceptInvitationPage() {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [acceptedEmail, setAcceptedEmail] = useState<string | null>(null);

  if (!token) {
    return (
      <PublicPage title="Accept invitation">
        <Alert tone="error" title="This link is incomplete">
          Open the link from your invitation e-mail again, or ask for a new invitation.
        </Alert>
      </PublicPage>
    );
  }

  if (acceptedEmail !== null) {
    return (
      <PublicPage title="Welcome aboard">
        <Alert tone="success" title="Your account is ready">
          Log in as {acceptedEmail} with the password you chose.
        </Alert>
        <div className="auth-links">
          <Link to="/login">Go to the login page</Link>
        </div>
      </PublicPage>
    );
  }

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const problem = name.trim() === "" ? "Please enter your name." : passwordProblem(password, confirm);
    if (problem) {
      setError(problem);
      return;
    }
    setError(null);
    setBusy(true);
    try {
      const user = await unwrap(api.POST("/users/accept-invitation", { body: { token, name: name.trim(), password } }));
      setAcceptedEmail(user.email);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 400 && /token|invitation/i.test(err.message)
          ? "This invitation link is invalid, already used or expired. Ask for a new invitation."
          : errorMessage(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <PublicPage title="Accept invitation">
      <p className="muted">Choose your name and a password to join your team.</p>
      <form className="form" onSubmit={(e) => void submit(e)} noValidate>
        {error ? <Alert tone="error">{error}</Alert> : null}
        <TextInput label="Your name" name="name" autoComplete="name" required value={name} onChange={(e) => setName(e.target.value)} />
        <NewPasswordFields
          label="Password"
          password={password}
          confirm={confirm}
          onPassword={setPassword}
          onConfirm={setConfirm}
        />
        <Button type="submit" loading={busy}>
          Create account
        </Button>
      </form>
    </PublicPage>
  );
}
