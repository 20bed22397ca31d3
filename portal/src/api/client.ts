/**
 * The API client: openapi-fetch typed by the generated `schema.d.ts`, plus the
 * session middleware every request goes through.
 *
 * - `Authorization: Bearer <access token>` on every authenticated path;
 * - a `401` triggers one refresh (shared by concurrent requests) and one retry
 *   with the new token; when the refresh is refused the session ends everywhere
 *   (the SessionProvider hears it from the token store and shows the login page);
 * - a `429` waits `Retry-After` seconds (capped) and retries once.
 *
 * Pages never call `fetch` themselves: they call `api.GET("/path", ...)` through
 * TanStack Query (see `unwrap` in ./errors and `useCursorList` in ./hooks).
 */
import createClient, { type Middleware } from "openapi-fetch";
import { getConfig } from "../config";
import { tokenStore } from "../session/tokens";
import type { paths } from "./schema";

/** Paths that take no bearer token and whose 401 means "wrong credentials", not "session over". */
const PUBLIC_PATHS = new Set<string>([
  "/auth/authenticate",
  "/auth/login",
  "/auth/mfa",
  "/auth/refresh",
  "/auth/password-reset",
  "/auth/password-reset/confirm",
  "/users/accept-invitation",
  "/health",
  "/openapi.json",
]);
/** Longest wait for a Retry-After before retrying (a longer one is shown as an error instead). */
const MAX_RETRY_AFTER_MS = 10_000;

/** Copies of each request taken before it is sent: a retry needs a body not yet consumed. */
const pending = new Map<string, Request>();

function withToken(request: Request, token: string | null): Request {
  const headers = new Headers(request.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  else headers.delete("Authorization");
  return new Request(request, { headers });
}

function retryAfterMs(response: Response): number | null {
  const header = response.headers.get("Retry-After");
  if (header === null) return 1000;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) {
    const ms = seconds * 1000;
    return ms <= MAX_RETRY_AFTER_MS ? ms : null;
  }
  const date = Date.parse(header);
  if (Number.isNaN(date)) return 1000;
  const ms = Math.max(0, date - Date.now());
  return ms <= MAX_RETRY_AFTER_MS ? ms : null;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const sessionMiddleware: Middleware = {
  onRequest({ request, schemaPath, id }) {
    const authed = PUBLIC_PATHS.has(schemaPath) ? request : withToken(request, tokenStore.accessToken());
    pending.set(id, authed.clone());
    return authed;
  },
  async onResponse({ response, schemaPath, id, options }) {
    const original = pending.get(id);
    pending.delete(id);
    if (!original) return undefined;
    if (response.status === 401 && !PUBLIC_PATHS.has(schemaPath) && tokenStore.get() !== null) {
      const sentWith = original.headers.get("Authorization");
      const latest = tokenStore.accessToken();
      // Another request may already have refreshed: then retry with the new token directly.
      const refreshed = latest !== null && sentWith !== `Bearer ${latest}` ? true : await tokenStore.refresh();
      if (!refreshed) {
        tokenStore.clear("expired");
        return undefined;
      }
      const retried = await options.fetch(withToken(original, tokenStore.accessToken()));
      if (retried.status === 401) tokenStore.clear("expired");
      return retried;
    }
    if (response.status === 429) {
      const wait = retryAfterMs(response);
      if (wait === null) return undefined;
      await sleep(wait);
      const token = PUBLIC_PATHS.has(schemaPath) ? null : tokenStore.accessToken();
      return options.fetch(PUBLIC_PATHS.has(schemaPath) ? original : withToken(original, token));
    }
    return undefined;
  },
  onError({ id }) {
    pending.delete(id);
    return undefined;
  },
};

export const api = createClient<paths>({ baseUrl: getConfig().apiUrl });
api.use(sessionMiddleware);

export type Api = typeof api;

// The token store refreshes through the same client (a public path: no bearer, no retry loop).
tokenStore.setRefresher(async (refreshToken) => {
  const { data, response } = await api.POST("/auth/refresh", { body: { refresh_token: refreshToken } });
  if (data) return data;
  if (response.status === 400 || response.status === 401 || response.status === 403) return null;
  throw new Error(`refresh failed with ${response.status}`);
});
