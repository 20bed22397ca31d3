-- Issue 14, part C: outbound webhooks to the tenants' own endpoints (docs/WEBHOOKS.md).
--
-- Four tenant tables, each under forced row-level security:
--
-- * webhook_endpoints: where a tenant wants events, and which. The signing
--   secret must be usable to sign, so it cannot be hashed: it is KMS
--   ciphertext (auth.secret_box, purpose 'webhook_secret', bound to the
--   tenant and the endpoint). The id is chosen by the runtime because the
--   ciphertext's encryption context names it. Deleting an endpoint keeps the
--   row (its delivery history points at it) but destroys the secret.
-- * webhook_events: what happened, recorded in the transaction of its cause,
--   and only when at least one endpoint of the tenant subscribes to it.
-- * webhook_deliveries: the queue, one row per endpoint and event, claimed
--   with a committed lease (sending_until, as notifications in 0037) so two
--   senders never send one row at once; sent at least once, retried with
--   backoff until it succeeds or is 'dead'.
-- * webhook_delivery_attempts: one row per attempt. These are the API's
--   "delivery records" (GET /webhook-endpoints/{id}/deliveries): (delivery_id,
--   attempt) is unique, which makes recording an attempt idempotent.
CREATE TABLE webhook_endpoints (
    id             uuid PRIMARY KEY,
    customer_id    uuid NOT NULL REFERENCES customers (id),
    url            text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description    text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    events         text[] NOT NULL CHECK (cardinality(events) BETWEEN 1 AND 50),
    secret_sealed  bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    CONSTRAINT webhook_endpoints_secret CHECK (deleted_at IS NOT NULL OR secret_sealed IS NOT NULL)
);
-- The live endpoints of a tenant: what every emit looks up (one index probe when there are none).
CREATE INDEX webhook_endpoints_live_idx ON webhook_endpoints (customer_id, created_at, id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_events (
    id           uuid PRIMARY KEY,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    type         text NOT NULL CHECK (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
    data         jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_customer_idx ON webhook_events (customer_id, created_at);

CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id       uuid NOT NULL REFERENCES customers (id),
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_id          uuid NOT NULL REFERENCES webhook_events (id),
    -- pending: never attempted; failed: the last attempt failed, another is due at next_attempt_at;
    -- succeeded; dead: given up (every attempt failed, or the endpoint was deleted).
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed', 'succeeded', 'dead')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz DEFAULT now(),
    sending_until     timestamptz,
    last_status_code  integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_once UNIQUE (endpoint_id, event_id),
    CONSTRAINT webhook_deliveries_due CHECK ((status IN ('pending', 'failed')) = (next_attempt_at IS NOT NULL))
);
-- The sender's query: what is due, oldest first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id) WHERE status IN ('pending', 'failed');

CREATE TABLE webhook_delivery_attempts (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id      uuid NOT NULL REFERENCES customers (id),
    delivery_id      uuid NOT NULL REFERENCES webhook_deliveries (id),
    endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_id         uuid NOT NULL REFERENCES webhook_events (id),
    attempt          integer NOT NULL CHECK (attempt >= 1),
    -- NULL: no HTTP answer (refused connection, timeout, TLS failure, address not allowed).
    status_code      integer CHECK (status_code BETWEEN 100 AND 599),
    succeeded        boolean NOT NULL,
    error            text CHECK (length(error) <= 300),
    -- The first characters of the endpoint's answer, for diagnosis; never more.
    response_prefix  text CHECK (length(response_prefix) <= 256),
    -- When the next attempt is due after this one; NULL when there is none (succeeded or dead).
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_delivery_attempts_once UNIQUE (delivery_id, attempt)
);
-- GET /webhook-endpoints/{id}/deliveries: an endpoint's attempts, newest first (keyset).
CREATE INDEX webhook_delivery_attempts_endpoint_idx
    ON webhook_delivery_attempts (endpoint_id, created_at DESC, id DESC);

SELECT enable_tenant_rls('webhook_endpoints');
SELECT enable_tenant_rls('webhook_events');
SELECT enable_tenant_rls('webhook_deliveries');
SELECT enable_tenant_rls('webhook_delivery_attempts');

-- The tenant manages its endpoints (deleting is an UPDATE: deleted_at, secret destroyed), emits
-- events in its own transactions (API keys) and retries its deliveries by hand.
GRANT SELECT, INSERT, UPDATE ON webhook_endpoints, webhook_deliveries TO saas_app;
GRANT SELECT, INSERT ON webhook_events, webhook_delivery_attempts TO saas_app;
-- Operator transactions emit events (the billing run, onboarding) and the sender job sends them.
GRANT SELECT ON webhook_endpoints TO saas_operator;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO saas_operator;
GRANT SELECT, INSERT ON webhook_events, webhook_delivery_attempts TO saas_operator;
-- Reporting sees what is configured and how deliveries go, never a secret or an endpoint's URL
-- (a URL may carry the tenant's own token in its path or query).
GRANT SELECT (id, customer_id, events, created_at, deleted_at) ON webhook_endpoints TO saas_analytics;
GRANT SELECT ON webhook_events, webhook_deliveries, webhook_delivery_attempts TO saas_analytics;
