-- Issue 14, part B: card payments through Stripe, dunning, and Stripe's webhooks (docs/BILLING.md,
-- "Payments and dunning").
--
-- * payment_customers: a tenant's Stripe customer, created lazily the first
--   time it is needed (one per tenant; the Stripe id is unique, so two
--   tenants can never share one), and its default card as Stripe describes it
--   (brand, last four digits, expiry: nothing secret, the card itself never
--   reaches us).
-- * payment_attempts: one row per charge of an invoice. (invoice_id, attempt)
--   is unique and names the charge's Stripe idempotency key
--   (invoice-<id>-attempt-<n>): a row is claimed *before* Stripe is called, so
--   a retried job either finds the attempt done or repeats the very same
--   request, which Stripe answers with the first charge's outcome. While the
--   call is in flight the row holds a lease (claimed_until); a row still
--   'pending' whose lease ended (the process died, or Stripe could not be
--   reached) is repeated with the same key.
-- * stripe_events: the ids of the Stripe events received (POST /webhooks/stripe),
--   inserted in the transaction that applies the event: a replayed event
--   finds its id and changes nothing. Not tenant data (an event names our
--   tenant only through our own records), so no row-level security: only the
--   operator role, which the webhook handler runs as, may touch it.
--
-- The invoices' payment columns (payment_status, payment_attempts,
-- next_payment_attempt_at, amount_paid...) are migration 0039's.
CREATE TABLE payment_customers (
    customer_id                uuid PRIMARY KEY REFERENCES customers (id),
    stripe_customer_id         text NOT NULL CONSTRAINT payment_customers_stripe_customer_key UNIQUE
                               CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9_]{1,250}$'),
    default_payment_method_id  text CHECK (default_payment_method_id ~ '^pm_[A-Za-z0-9_]{1,250}$'),
    brand                      text CHECK (length(brand) <= 40),
    last4                      text CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month                  integer CHECK (exp_month BETWEEN 1 AND 12),
    exp_year                   integer CHECK (exp_year BETWEEN 2000 AND 2200),
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    -- A default card is described completely, or not at all.
    CONSTRAINT payment_customers_card CHECK (
        (default_payment_method_id IS NULL) = (last4 IS NULL)
        AND (last4 IS NULL) = (exp_month IS NULL)
        AND (exp_month IS NULL) = (exp_year IS NULL)
        AND (exp_year IS NULL) = (brand IS NULL))
);

CREATE TABLE payment_attempts (
    id                        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id               uuid NOT NULL REFERENCES customers (id),
    invoice_id                uuid NOT NULL REFERENCES invoices (id),
    attempt                   integer NOT NULL CHECK (attempt >= 1),
    -- The card charged: a repeated attempt must send Stripe the same request as the first time.
    stripe_payment_method_id  text NOT NULL CHECK (stripe_payment_method_id ~ '^pm_[A-Za-z0-9_]{1,250}$'),
    -- Known once Stripe answered (a decline may not name it).
    stripe_payment_intent_id  text CONSTRAINT payment_attempts_payment_intent_key UNIQUE
                              CHECK (stripe_payment_intent_id ~ '^pi_[A-Za-z0-9_]{1,250}$'),
    -- pending: claimed, or its outcome is not known yet; succeeded; failed (declined or refused).
    status                    text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    failure_code              text CHECK (length(failure_code) <= 100),
    amount                    numeric(14, 2) NOT NULL CHECK (amount > 0),
    currency                  char(3) NOT NULL,
    claimed_until             timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    finished_at               timestamptz,
    CONSTRAINT payment_attempts_once UNIQUE (invoice_id, attempt),
    CONSTRAINT payment_attempts_finished CHECK ((status = 'pending') = (finished_at IS NULL))
);
CREATE INDEX payment_attempts_customer_idx ON payment_attempts (customer_id, created_at);

CREATE TABLE stripe_events (
    id           text PRIMARY KEY CHECK (id ~ '^evt_[A-Za-z0-9_]{1,250}$'),
    type         text NOT NULL CHECK (length(type) BETWEEN 1 AND 200),
    received_at  timestamptz NOT NULL DEFAULT now()
);

SELECT enable_tenant_rls('payment_customers');
SELECT enable_tenant_rls('payment_attempts');

-- The tenant (POST /billing/payment-method) records its Stripe customer and card; it reads its
-- attempts but never writes one: charges move invoices, which only operator transactions do.
GRANT SELECT, INSERT, UPDATE ON payment_customers TO saas_app;
GRANT SELECT ON payment_attempts TO saas_app;
-- Charging (the billing run, the dunning job, a new card's immediate retry) and the webhook
-- handler run as the operator role.
GRANT SELECT ON payment_customers TO saas_operator;
GRANT SELECT, INSERT, UPDATE ON payment_attempts TO saas_operator;
GRANT SELECT, INSERT ON stripe_events TO saas_operator;
GRANT SELECT ON payment_customers, payment_attempts, stripe_events TO saas_analytics;
