/**
 * The card form: a SetupIntent from our API, Stripe.js's card element, then
 * `confirmCardSetup` at Stripe and the resulting PaymentMethod sent to
 * `POST /billing/payment-method`. The card number goes from the browser to
 * Stripe only; our API sees the `pm_...` id.
 *
 * A SetupIntent is confirmed once: after a decline (or a refusal by our API)
 * the next try takes a fresh one. The form is inline, not in a modal <dialog>:
 * Stripe's 3-D Secure step opens its own overlay on the page, which a modal
 * dialog would make inert.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { api } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import type { components } from "../../api/schema";
import { getConfig } from "../../config";
import { Alert, Button, Loading } from "../../ui";
import { labelPlainCardInputs, loadStripe, paymentMethodId, type StripeCardElement, type StripeInstance } from "./stripe";

export type Card = components["schemas"]["PaymentMethodResponse"];

type Setup = { stripe: StripeInstance; clientSecret: string };

async function newSetupIntent(): Promise<{ clientSecret: string; publishableKey: string }> {
  const intent = await unwrap(api.POST("/billing/setup-intent"));
  return { clientSecret: intent.client_secret, publishableKey: intent.publishable_key || getConfig().stripePublishableKey };
}

export function CardForm({ onSaved, onCancel }: { onSaved: (card: Card) => void; onCancel: () => void }) {
  const queryClient = useQueryClient();
  const [setup, setSetup] = useState<Setup | null>(null);
  const [setupError, setSetupError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [card, setCard] = useState<StripeCardElement | null>(null);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const secretUsed = useRef(false);
  const mountRef = useRef<HTMLDivElement>(null);
  const labelId = useId();

  // A SetupIntent, then Stripe.js with the publishable key the API gave.
  useEffect(() => {
    let cancelled = false;
    setSetupError(null);
    (async () => {
      const intent = await newSetupIntent();
      const Stripe = await loadStripe(getConfig().stripeJsUrl);
      if (!cancelled) {
        secretUsed.current = false;
        setSetup({ stripe: Stripe(intent.publishableKey), clientSecret: intent.clientSecret });
      }
    })().catch((err: unknown) => {
      if (!cancelled) setSetupError(err);
    });
    return () => {
      cancelled = true;
    };
  }, [attempt]);

  // The card element, mounted into our container while the form is shown.
  useEffect(() => {
    const target = mountRef.current;
    if (!setup || !target) return;
    const element = setup.stripe.elements().create("card");
    element.mount(target);
    labelPlainCardInputs(target);
    element.on("change", (event) => setFieldError(event?.error?.message ?? null));
    setCard(element);
    return () => {
      element.destroy();
      target.replaceChildren(); // the labels put around localstripe's inputs
      setCard(null);
    };
  }, [setup]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!setup || !card) return;
    setError(null);
    setBusy(true);
    try {
      let clientSecret = setup.clientSecret;
      if (secretUsed.current) clientSecret = (await newSetupIntent()).clientSecret;
      secretUsed.current = true;
      const result = await setup.stripe.confirmCardSetup(clientSecret, { payment_method: { card } });
      const pm = paymentMethodId(result.setupIntent);
      if (result.error || !pm) {
        setError(result.error?.message || "The card could not be set up. Check the details and try again.");
        return;
      }
      const saved = await unwrap(api.POST("/billing/payment-method", { body: { payment_method_id: pm } }));
      // Attaching a card retries what is owed: invoices may change state.
      void queryClient.invalidateQueries({ queryKey: ["invoices"] });
      onSaved(saved);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  if (setupError) {
    return (
      <Alert
        tone="error"
        title="The card form could not be opened"
        action={
          <Button variant="secondary" size="sm" onClick={() => setAttempt((n) => n + 1)}>
            Try again
          </Button>
        }
      >
        {errorMessage(setupError)}
      </Alert>
    );
  }
  if (!setup) return <Loading label="Opening the secure card form…" />;

  return (
    <form className="form" onSubmit={(e) => void submit(e)} noValidate>
      {error ? (
        <Alert tone="error" title="The card was not saved">
          {error}
        </Alert>
      ) : null}
      <div className="field" role="group" aria-labelledby={labelId}>
        <p id={labelId} className="field-label">
          Card details
        </p>
        <div ref={mountRef} className="stack" />
        {fieldError ? <p className="field-error">{fieldError}</p> : null}
        <p className="field-hint">Your card details go straight to our payment processor, Stripe; we keep only the brand, last four digits and expiry.</p>
      </div>
      <div className="row">
        <Button type="submit" loading={busy} disabled={!card}>
          Save card
        </Button>
        <Button variant="secondary" onClick={onCancel} disabled={busy}>
          Cancel
        </Button>
      </div>
    </form>
  );
}
