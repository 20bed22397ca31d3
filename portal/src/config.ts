/**
 * Runtime configuration, fetched from `/config.json` before the app renders.
 *
 * Why at run time and not baked in at build time: one build is deployed to every
 * environment (and served locally by `make run`); each serves its own config.json
 * beside the build with the API's URL and the Stripe key of that environment.
 */
export interface PortalConfig {
  /** The API's base URL, without a trailing slash (`http://127.0.0.1:8000`). */
  apiUrl: string;
  /** Stripe (or localstripe) publishable key for the card form. */
  stripePublishableKey: string;
  /** Where Stripe.js is loaded from (`https://js.stripe.com/v3/` or localstripe's copy). */
  stripeJsUrl: string;
}

let loaded: PortalConfig | null = null;

function isConfig(value: unknown): value is PortalConfig {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.apiUrl === "string" && typeof v.stripePublishableKey === "string" && typeof v.stripeJsUrl === "string";
}

/** Fetch `/config.json` once; `vite dev` without one falls back to the local stack's defaults. */
export async function loadConfig(): Promise<PortalConfig> {
  if (loaded) return loaded;
  let body: unknown = null;
  try {
    const response = await fetch("/config.json", { cache: "no-store" });
    if (response.ok) body = await response.json();
  } catch {
    body = null;
  }
  if (isConfig(body)) {
    loaded = { ...body, apiUrl: body.apiUrl.replace(/\/+$/, "") };
  } else if (import.meta.env.DEV) {
    loaded = { apiUrl: "http://127.0.0.1:8000", stripePublishableKey: "", stripeJsUrl: "" };
  } else {
    throw new Error("The portal's /config.json is missing or malformed.");
  }
  return loaded;
}

/** The configuration loaded by {@link loadConfig} (main.tsx awaits it before importing the app). */
export function getConfig(): PortalConfig {
  if (!loaded) throw new Error("getConfig() called before loadConfig() finished");
  return loaded;
}
