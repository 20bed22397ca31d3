/**
 * End this session and go to /login, to come back to the dashboard.
 *
 * Why: after MFA changes the API wants a new login (enrolling: a session opened
 * with the password alone does not satisfy a tenant requiring MFA; disabling:
 * the API has already ended every session of the person). The message travels
 * in the navigation state (`notice`) for the login page; the caller also shows
 * it on its own page before the user clicks.
 *
 * Why not `session.logout()` then `navigate()`: the router applies locations in
 * a transition, so the route guard would see the session end first and send to
 * /login remembering /security (and the login would return there). Clearing the
 * tokens and navigating in one transition makes them one render: /login, from "/".
 */
import { startTransition, useCallback } from "react";
import { useNavigate } from "react-router-dom";
import { api } from "../../api/client";
import { tokenStore } from "../../session/tokens";

export interface LogInAgainOptions {
  /** The API already ended the session (disabling MFA): do not ask it to log out. */
  sessionAlreadyEnded?: boolean;
}

export function useLogInAgain(): (notice: string, options?: LogInAgainOptions) => Promise<void> {
  const navigate = useNavigate();
  return useCallback(
    async (notice: string, options: LogInAgainOptions = {}) => {
      if (!options.sessionAlreadyEnded && tokenStore.get()) {
        try {
          await api.POST("/auth/logout");
        } catch {
          // Offline: the token still dies here, and expires there.
        }
      }
      startTransition(() => {
        navigate("/login", { replace: true, state: { from: "/", notice } });
        tokenStore.clear("logout");
      });
    },
    [navigate],
  );
}
