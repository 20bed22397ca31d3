/**
 * The session's tokens, in memory only.
 *
 * Why a module and not React state: the API client's middleware needs the access
 * token and the refresh on every request, outside any component. Why memory only:
 * a token in localStorage/sessionStorage is readable by any script that ever runs
 * on the origin; in memory it dies with the tab (a reload means logging in again).
 */
import type { components } from "../api/schema";

export type TokenPair = components["schemas"]["TokenResponse"];

export interface Tokens {
  access: string;
  refresh: string;
  /** Epoch milliseconds when the access token expires (from `expires_in`, on this clock). */
  expiresAt: number;
}

/** Why the session ended (the login page says so). */
export type EndReason = "logout" | "expired";

type Listener = (tokens: Tokens | null, reason: EndReason | null) => void;
/** Refresh with the refresh token: the new pair, or null when the API refused it. */
export type Refresher = (refreshToken: string) => Promise<TokenPair | null>;

let current: Tokens | null = null;
let refresher: Refresher | null = null;
let inFlight: Promise<boolean> | null = null;
const listeners = new Set<Listener>();

function notify(reason: EndReason | null): void {
  for (const listener of listeners) listener(current, reason);
}

export function fromPair(pair: TokenPair): Tokens {
  return { access: pair.token, refresh: pair.refresh_token, expiresAt: Date.now() + pair.expires_in * 1000 };
}

export const tokenStore = {
  get(): Tokens | null {
    return current;
  },
  accessToken(): string | null {
    return current?.access ?? null;
  },
  set(pair: TokenPair): void {
    current = fromPair(pair);
    notify(null);
  },
  /** Forget the tokens; every subscriber (the SessionProvider) ends the session. */
  clear(reason: EndReason): void {
    if (current === null) return;
    current = null;
    notify(reason);
  },
  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
  setRefresher(fn: Refresher): void {
    refresher = fn;
  },
  /**
   * One refresh at a time: concurrent 401s and the proactive timer share it (a
   * refresh token is single-use, so two parallel refreshes would end the session).
   * Resolves true with new tokens, false (and the session cleared) otherwise.
   */
  refresh(): Promise<boolean> {
    if (inFlight) return inFlight;
    const tokens = current;
    if (!tokens || !refresher) return Promise.resolve(false);
    const run = refresher;
    inFlight = (async () => {
      try {
        const pair = await run(tokens.refresh);
        if (pair && current === tokens) {
          tokenStore.set(pair);
          return true;
        }
        if (current === tokens) tokenStore.clear("expired");
        return current !== null && current !== tokens;
      } catch {
        // A network error is not a refusal: keep the session, let the caller's request fail.
        return false;
      } finally {
        inFlight = null;
      }
    })();
    return inFlight;
  },
};
