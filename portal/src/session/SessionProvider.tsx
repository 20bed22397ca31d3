/**
 * The session: who is logged in, their role and tenant, and the actions that
 * change it (login, MFA step, logout).
 *
 * Tokens live in `tokenStore` (memory only). This provider listens to it, so a
 * session ended anywhere (a 401 the client could not refresh) ends here too: the
 * user and every cached query are dropped and the route guard shows /login. The
 * access token is refreshed ~60 s before it expires, so an open tab stays logged in.
 */
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api } from "../api/client";
import type { components } from "../api/schema";
import { ApiError, unwrap } from "../api/errors";
import { can as roleCan, type Permission, type Role } from "./permissions";
import { tokenStore, type EndReason, type TokenPair } from "./tokens";

export type User = components["schemas"]["UserResponse"];
export type Customer = components["schemas"]["MeResponse"];

export type SessionStatus = "anonymous" | "loading" | "authenticated";

/** What `login` leads to: signed in, or the MFA step with its short-lived token. */
export type LoginResult = { kind: "done" } | { kind: "mfa"; mfaToken: string; expiresIn: number };

export interface SessionValue {
  status: SessionStatus;
  /** The person logged in (GET /users/me). */
  user: User | null;
  /** Their tenant (GET /customers/me); null while MFA enrolment is required (the API refuses it then). */
  customer: Customer | null;
  role: Role | null;
  /**
   * The tenant requires MFA and this session has no second factor: the API answers
   * 403 to everything but MFA enrolment, /users/me and logout; the portal shows only /security.
   */
  mfaEnrolmentRequired: boolean;
  /** Why the last session ended (for the login page's message), null if none did. */
  endReason: EndReason | null;
  /** E-mail + password. Rejects with an ApiError (401: wrong credentials). */
  login: (email: string, password: string) => Promise<LoginResult>;
  /** The MFA step: a TOTP code or a recovery code. Rejects with an ApiError (401: wrong code). */
  completeMfa: (mfaToken: string, code: string) => Promise<void>;
  /** End the session on the server (best effort) and here. */
  logout: () => Promise<void>;
  /** Reload the user and the tenant (after enrolling MFA, changing require_mfa...). */
  reload: () => Promise<void>;
  can: (permission: Permission) => boolean;
}

type MfaChallenge = components["schemas"]["MfaChallenge"];

/** `POST /auth/login` answers a token pair or the MFA step; the step has no access token. */
function isChallenge(answer: TokenPair | MfaChallenge): answer is MfaChallenge {
  return typeof answer.mfa_token === "string" && typeof answer.token !== "string";
}

export const SessionContext = createContext<SessionValue | null>(null);

/** Refresh this long before the access token expires. */
const REFRESH_LEAD_MS = 60_000;
const MIN_REFRESH_DELAY_MS = 5_000;

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState<SessionStatus>(tokenStore.get() ? "loading" : "anonymous");
  const [user, setUser] = useState<User | null>(null);
  const [customer, setCustomer] = useState<Customer | null>(null);
  const [mfaEnrolmentRequired, setMfaEnrolmentRequired] = useState(false);
  const [endReason, setEndReason] = useState<EndReason | null>(null);
  const [expiresAt, setExpiresAt] = useState<number | null>(tokenStore.get()?.expiresAt ?? null);
  const loadSeq = useRef(0);

  const loadIdentity = useCallback(async () => {
    const seq = ++loadSeq.current;
    const me = await unwrap(api.GET("/users/me"));
    let tenant: Customer | null = null;
    let enrolment = false;
    try {
      tenant = await unwrap(api.GET("/customers/me"));
    } catch (error) {
      if (error instanceof ApiError && error.status === 403 && !me.mfa_enabled) enrolment = true;
      else throw error;
    }
    if (seq !== loadSeq.current || tokenStore.get() === null) return;
    setUser(me);
    setCustomer(tenant);
    setMfaEnrolmentRequired(enrolment);
    setStatus("authenticated");
  }, []);

  // Follow the token store: new tokens reschedule the refresh; cleared tokens end the session.
  useEffect(
    () =>
      tokenStore.subscribe((tokens, reason) => {
        setExpiresAt(tokens?.expiresAt ?? null);
        if (tokens === null) {
          loadSeq.current++;
          setUser(null);
          setCustomer(null);
          setMfaEnrolmentRequired(false);
          setStatus("anonymous");
          setEndReason(reason);
          queryClient.clear();
        }
      }),
    [queryClient],
  );

  useEffect(() => {
    if (expiresAt === null) return;
    const delay = Math.max(MIN_REFRESH_DELAY_MS, expiresAt - Date.now() - REFRESH_LEAD_MS);
    const timer = window.setTimeout(() => void tokenStore.refresh(), delay);
    return () => window.clearTimeout(timer);
  }, [expiresAt]);

  const start = useCallback(
    async (pair: TokenPair) => {
      setStatus("loading");
      setEndReason(null);
      tokenStore.set(pair);
      try {
        await loadIdentity();
      } catch (error) {
        tokenStore.clear("logout");
        throw error;
      }
    },
    [loadIdentity],
  );

  const login = useCallback(
    async (email: string, password: string): Promise<LoginResult> => {
      const answer = await unwrap(api.POST("/auth/login", { body: { email, password } }));
      if (isChallenge(answer)) return { kind: "mfa", mfaToken: answer.mfa_token, expiresIn: answer.expires_in };
      await start(answer);
      return { kind: "done" };
    },
    [start],
  );

  const completeMfa = useCallback(
    async (mfaToken: string, code: string) => {
      const pair = await unwrap(api.POST("/auth/mfa", { body: { mfa_token: mfaToken, code } }));
      await start(pair);
    },
    [start],
  );

  const logout = useCallback(async () => {
    if (tokenStore.get()) {
      try {
        await api.POST("/auth/logout");
      } catch {
        // Offline: the token still dies here, and expires there.
      }
    }
    tokenStore.clear("logout");
  }, []);

  const value = useMemo<SessionValue>(() => {
    const role = user?.role ?? null;
    return {
      status,
      user,
      customer,
      role,
      mfaEnrolmentRequired,
      endReason,
      login,
      completeMfa,
      logout,
      reload: loadIdentity,
      can: (permission: Permission) => !mfaEnrolmentRequired && roleCan(role, permission),
    };
  }, [status, user, customer, mfaEnrolmentRequired, endReason, login, completeMfa, logout, loadIdentity]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
