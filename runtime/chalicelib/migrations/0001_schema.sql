-- Core schema: catalog (tiers, prices, features, metrics), tenants and their
-- keys, usage, billing, audit, support, notifications. Money is numeric.

-- The tenant of the current transaction, or NULL. Policies call it inside a
-- scalar subquery so it is evaluated once per statement, not once per row.
CREATE FUNCTION app_current_tenant() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;

-- Turn on forced row-level security for a tenant-owned table: the app role
-- sees and writes only the current tenant's rows, the operator role all rows
-- (through its own explicit path), analytics reads all rows.
CREATE FUNCTION enable_tenant_rls(tbl regclass, tenant_column text DEFAULT 'customer_id') RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s TO saas_app '
        'USING (%I = (SELECT app_current_tenant())) WITH CHECK (%I = (SELECT app_current_tenant()))',
        tbl, tenant_column, tenant_column);
    EXECUTE format('CREATE POLICY operator_access ON %s TO saas_operator USING (true) WITH CHECK (true)', tbl);
    EXECUTE format('CREATE POLICY analytics_read ON %s FOR SELECT TO saas_analytics USING (true)', tbl);
END
$$;

-- ---------------------------------------------------------------- catalog
CREATE TABLE tiers (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name        text NOT NULL,
    base_fee    numeric(14, 2) NOT NULL CHECK (base_fee >= 0),
    sort_order  integer NOT NULL
);

CREATE TABLE metrics (
    code  text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name  text NOT NULL,
    unit  text NOT NULL
);

CREATE TABLE tier_prices (
    tier_code       text NOT NULL REFERENCES tiers (code),
    metric_code     text NOT NULL REFERENCES metrics (code),
    included_units  numeric(20, 6) NOT NULL CHECK (included_units >= 0),
    unit_price      numeric(14, 6) NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (tier_code, metric_code)
);

-- The feature matrix: one JSON value per tier and feature (booleans, numbers,
-- strings), e.g. sso, audit_export, support_level, rate limits.
CREATE TABLE tier_features (
    tier_code  text NOT NULL REFERENCES tiers (code),
    feature    text NOT NULL CHECK (feature ~ '^[a-z][a-z0-9_]*$'),
    value      jsonb NOT NULL,
    PRIMARY KEY (tier_code, feature)
);

-- ---------------------------------------------------------------- tenants
CREATE TABLE customers (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email               text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    tier_code           text NOT NULL REFERENCES tiers (code),
    status              text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    tax_rate            numeric(6, 4) NOT NULL DEFAULT 0.08 CHECK (tax_rate >= 0 AND tax_rate < 1),
    billing_start_date  date NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')::date,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX customers_email_key ON customers (lower(email));

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id   uuid NOT NULL REFERENCES customers (id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix        text NOT NULL CHECK (prefix IN ('sk_live_', 'sk_test_')),
    public_id     text NOT NULL UNIQUE,
    secret_hash   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    rotated_from  uuid REFERENCES api_keys (id)
);
CREATE INDEX api_keys_customer_idx ON api_keys (customer_id, created_at DESC, id DESC);

CREATE TABLE operators (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL,
    email        text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz
);

CREATE TABLE operator_api_keys (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    operator_id   uuid NOT NULL REFERENCES operators (id),
    name          text NOT NULL,
    public_id     text NOT NULL UNIQUE,
    secret_hash   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);

-- ---------------------------------------------------------------- usage
CREATE TABLE usage_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  uuid NOT NULL REFERENCES customers (id),
    event_id     text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    metric_code  text NOT NULL REFERENCES metrics (code),
    quantity     numeric(20, 6) NOT NULL CHECK (quantity >= 0),
    occurred_at  timestamptz NOT NULL,
    period       date NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, event_id)
);
CREATE INDEX usage_events_period_idx ON usage_events (customer_id, period, metric_code);

-- Running totals per customer, month and metric, kept current by ingestion.
CREATE TABLE usage_monthly (
    customer_id  uuid NOT NULL REFERENCES customers (id),
    period       date NOT NULL CHECK (extract(day FROM period) = 1),
    metric_code  text NOT NULL REFERENCES metrics (code),
    quantity     numeric(24, 6) NOT NULL DEFAULT 0 CHECK (quantity >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (customer_id, period, metric_code)
);

-- ---------------------------------------------------------------- billing
CREATE TABLE billing_runs (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    period             date NOT NULL CHECK (extract(day FROM period) = 1),
    finalize           boolean NOT NULL,
    status             text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_by         text NOT NULL,
    started_at         timestamptz NOT NULL DEFAULT now(),
    finished_at        timestamptz,
    invoices_created   integer NOT NULL DEFAULT 0,
    invoices_existing  integer NOT NULL DEFAULT 0,
    total              numeric(16, 2) NOT NULL DEFAULT 0,
    error              text
);
CREATE INDEX billing_runs_period_idx ON billing_runs (period, started_at DESC);

CREATE TABLE invoices (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id   uuid NOT NULL REFERENCES customers (id),
    number        text NOT NULL UNIQUE,
    period        date NOT NULL CHECK (extract(day FROM period) = 1),
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'finalized', 'paid', 'void')),
    currency      char(3) NOT NULL DEFAULT 'USD',
    tier_code     text NOT NULL REFERENCES tiers (code),
    tax_rate      numeric(6, 4) NOT NULL,
    subtotal      numeric(14, 2) NOT NULL,
    discount      numeric(14, 2) NOT NULL,
    tax           numeric(14, 2) NOT NULL,
    total         numeric(14, 2) NOT NULL,
    billing_run_id uuid REFERENCES billing_runs (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    finalized_at  timestamptz,
    due_at        timestamptz,
    UNIQUE (customer_id, period),
    CHECK (total = subtotal - discount + tax)
);
CREATE INDEX invoices_customer_idx ON invoices (customer_id, period DESC, id DESC);
CREATE INDEX invoices_status_idx ON invoices (status, period);

CREATE TABLE invoice_lines (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    invoice_id   uuid NOT NULL REFERENCES invoices (id),
    customer_id  uuid NOT NULL REFERENCES customers (id),
    position     integer NOT NULL,
    description  text NOT NULL,
    metric_code  text REFERENCES metrics (code),
    quantity     numeric(24, 6) NOT NULL,
    unit_price   numeric(14, 6) NOT NULL,
    amount       numeric(14, 2) NOT NULL,
    UNIQUE (invoice_id, position)
);
CREATE INDEX invoice_lines_customer_idx ON invoice_lines (customer_id, invoice_id);

-- Gap-free invoice numbers per year: one row per year, bumped under its row lock.
CREATE TABLE invoice_number_counters (
    year        integer PRIMARY KEY,
    last_value  integer NOT NULL DEFAULT 0
);

-- ---------------------------------------------------------------- support
CREATE TABLE support_tickets (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid NOT NULL REFERENCES customers (id),
    subject      text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    priority     text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    closed_at    timestamptz
);
CREATE INDEX support_tickets_customer_idx ON support_tickets (customer_id, created_at DESC, id DESC);

CREATE TABLE support_ticket_comments (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    ticket_id    uuid NOT NULL REFERENCES support_tickets (id),
    customer_id  uuid NOT NULL REFERENCES customers (id),
    author       text NOT NULL,
    body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX support_ticket_comments_idx ON support_ticket_comments (customer_id, ticket_id, created_at);

-- ---------------------------------------------------------------- notifications
CREATE TABLE notifications (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id      uuid NOT NULL REFERENCES customers (id),
    channel          text NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
    template         text NOT NULL,
    recipient        text NOT NULL,
    subject          text NOT NULL,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    related_type     text,
    related_id       uuid,
    -- One delivery per purpose (e.g. "invoice:<id>"): a retried job cannot send twice.
    idempotency_key  text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    provider_message_id text,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX notifications_customer_idx ON notifications (customer_id, created_at DESC, id DESC);
CREATE INDEX notifications_pending_idx ON notifications (status) WHERE status <> 'sent';

-- ---------------------------------------------------------------- row-level security
SELECT enable_tenant_rls('customers', 'id');
SELECT enable_tenant_rls('api_keys');
SELECT enable_tenant_rls('usage_events');
SELECT enable_tenant_rls('usage_monthly');
SELECT enable_tenant_rls('invoices');
SELECT enable_tenant_rls('invoice_lines');
SELECT enable_tenant_rls('support_tickets');
SELECT enable_tenant_rls('support_ticket_comments');
SELECT enable_tenant_rls('notifications');

-- ---------------------------------------------------------------- privileges
GRANT SELECT ON tiers, metrics, tier_prices, tier_features TO saas_app, saas_operator, saas_analytics;
GRANT SELECT ON customers TO saas_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO saas_app;
GRANT SELECT, INSERT ON usage_events TO saas_app;
GRANT SELECT, INSERT, UPDATE ON usage_monthly TO saas_app;
GRANT SELECT ON invoices, invoice_lines TO saas_app;
GRANT SELECT, INSERT, UPDATE ON support_tickets TO saas_app;
GRANT SELECT, INSERT ON support_ticket_comments TO saas_app;
GRANT SELECT, INSERT, UPDATE ON notifications TO saas_app;

GRANT SELECT, INSERT, UPDATE ON customers, api_keys, operators, operator_api_keys, usage_events,
    usage_monthly, billing_runs, invoices, support_tickets, support_ticket_comments, notifications,
    invoice_number_counters TO saas_operator;
GRANT SELECT, INSERT, UPDATE, DELETE ON invoice_lines TO saas_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO saas_analytics;

REVOKE EXECUTE ON FUNCTION enable_tenant_rls(regclass, text) FROM PUBLIC;
