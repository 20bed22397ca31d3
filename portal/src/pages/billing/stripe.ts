/**
 * Stripe.js, loaded at run time from `config.stripeJsUrl` (https://js.stripe.com/v3/
 * in the cloud, localstripe's stand-in locally): a <script> tag injected once, on
 * the first card form, never bundled (Stripe requires loading it from its origin,
 * and the CSP's script-src allows exactly that origin).
 *
 * Only the few calls the card form makes are typed here: `Stripe(key)`,
 * `elements().create("card")`, `mount`/`destroy`/`on("change")` and
 * `confirmCardSetup`. localstripe implements the same calls (its card element is
 * plain inputs instead of Stripe's iframe).
 */

export interface StripeError {
  message?: string;
  code?: string;
  decline_code?: string;
}

/** What the card element reports on change (localstripe's calls the handler without one). */
export interface CardChangeEvent {
  complete?: boolean;
  empty?: boolean;
  error?: StripeError;
}

export interface StripeCardElement {
  mount(target: HTMLElement): void;
  destroy(): void;
  on(event: "change", handler: (event?: CardChangeEvent) => void): void;
}

export interface StripeSetupIntent {
  id?: string;
  status: string;
  /** The new PaymentMethod's id (not expanded). */
  payment_method: string | { id: string } | null;
}

export interface StripeInstance {
  elements(): { create(type: "card", options?: Record<string, unknown>): StripeCardElement };
  confirmCardSetup(
    clientSecret: string,
    data: { payment_method: { card: StripeCardElement } },
  ): Promise<{ setupIntent?: StripeSetupIntent; error?: StripeError | null }>;
}

type StripeFactory = (publishableKey: string) => StripeInstance;

declare global {
  interface Window {
    Stripe?: StripeFactory;
  }
}

let loading: Promise<StripeFactory> | null = null;

/** `window.Stripe`, loading the script from `url` the first time (a failed load may be tried again). */
export function loadStripe(url: string): Promise<StripeFactory> {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  if (!url) return Promise.reject(new Error("Card payments are not configured for this portal (no Stripe.js URL)."));
  if (loading) return loading;
  loading = new Promise<StripeFactory>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.onload = () => {
      if (window.Stripe) resolve(window.Stripe);
      else reject(new Error("Stripe.js loaded but did not define Stripe."));
    };
    script.onerror = () => {
      script.remove();
      reject(new Error("The card form could not be loaded (Stripe.js did not load). Check your connection and try again."));
    };
    document.head.append(script);
  }).catch((error: unknown) => {
    loading = null;
    throw error;
  });
  return loading;
}

/** The SetupIntent's PaymentMethod id, whichever shape Stripe answered with. */
export function paymentMethodId(intent: StripeSetupIntent | undefined): string | null {
  const pm = intent?.payment_method;
  if (typeof pm === "string") return pm;
  return pm?.id ?? null;
}

/**
 * localstripe's stand-in card element is five bare inputs named only by a
 * placeholder ("number", "exp_month"...); Stripe's real element is an iframe
 * that labels its own fields. This gives the local inputs what every field of
 * the portal has, a visible <label> (so they read, and are found by label, the
 * same way), and our input style. The inputs stay the ones localstripe reads.
 */
const FIELDS: Record<string, { label: string; autocomplete: string; numeric: boolean }> = {
  number: { label: "Card number", autocomplete: "cc-number", numeric: true },
  exp_month: { label: "Expiry month (MM)", autocomplete: "cc-exp-month", numeric: true },
  exp_year: { label: "Expiry year (YY)", autocomplete: "cc-exp-year", numeric: true },
  cvc: { label: "Security code (CVC)", autocomplete: "cc-csc", numeric: true },
  postal_code: { label: "Postal code", autocomplete: "postal-code", numeric: false },
};

export function labelPlainCardInputs(container: HTMLElement): void {
  container.querySelectorAll(":scope > span").forEach((span) => span.classList.add("muted", "small"));
  container.querySelectorAll<HTMLInputElement>(":scope > input").forEach((input) => {
    const field = FIELDS[input.placeholder];
    if (!field) return;
    const label = document.createElement("label");
    label.className = "field";
    const text = document.createElement("span");
    text.className = "field-label";
    text.textContent = field.label;
    input.before(label);
    label.append(text, input);
    input.placeholder = "";
    input.setAttribute("autocomplete", field.autocomplete);
    input.inputMode = field.numeric ? "numeric" : "text";
    input.classList.add("input");
  });
}
