-- Issue 16: usage_events partitioned by month, so that a month can be
-- detached and archived without rewriting the table (docs/BILLING.md,
-- "Usage partitions and retention").
--
-- * Partition key: period (the event's UTC month, the column the billing run
--   filters on): RANGE, one partition per month, named usage_events_YYYY_MM.
--   The run's scan of a period reads exactly one partition, so the BRIN index
--   on period (migration 0020) has nothing left to do and is not recreated.
--
-- * Idempotency stays global per (customer_id, event_id), whatever the
--   timestamps (the contract). A unique constraint on a partitioned table must
--   contain the partition key, which would make it per month; so the key lives
--   in its own plain table, usage_event_keys, written first by ingestion, and
--   only the events whose key was new are stored. The surrogate id of the old
--   table (never read, one sequence call per event) is gone: an event is its
--   key.
--
-- * Partitions are created ahead: here for every month of the existing data
--   plus the current and the next one, then daily by ensure_usage_partitions()
--   (the billing daily job and the usage-partitions job call it, the local
--   stack calls it on start). An event for a month that still has none - late
--   events, a job that did not run - creates it on the spot: ingestion calls
--   usage_partition_for_ingest(), SECURITY DEFINER, which creates the table and
--   ATTACHes it (SHARE UPDATE EXCLUSIVE on the parent: concurrent ingestion and
--   billing reads go on) under a per-month advisory lock, so two batches racing
--   for the same month create it once. Chosen over a DEFAULT partition, which
--   would need every later CREATE/ATTACH to scan it and the ensure function to
--   move rows out of it under lock.
--
-- * Row-level security is forced on the parent (its policies are the ones a
--   query through the parent uses) and on every partition; partitions carry no
--   grant at all, so saas_app (or analytics) cannot reach one directly.
--
-- * Retention: detach_expired_usage_partitions(keep_months) detaches the months
--   older than that (plain DETACH inside the function, under a short
--   lock_timeout: CONCURRENTLY cannot run in a function or a transaction),
--   renames each to archived_usage_events_YYYY_MM, records it in
--   usage_event_archives and moves usage_retention.online_from up, below which
--   no partition is ever created again (such events are refused). Key rows are
--   kept: idempotency stays global, at ~100 bytes per event.
--
-- Needs PostgreSQL 17+ (the local stack runs 18, Aurora 17.5).

-- ---------------------------------------------------------------- the old table
-- Forced RLS hides every row from its owner (this file runs as saas_admin, which has no policy):
-- lift the force on the old table, which is dropped below, to copy it.
ALTER TABLE usage_events NO FORCE ROW LEVEL SECURITY;
ALTER TABLE usage_events RENAME TO usage_events_0042;

-- ---------------------------------------------------------------- the new tables
CREATE TABLE usage_events (
    customer_id  uuid NOT NULL REFERENCES customers (id),
    event_id     text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    metric_code  text NOT NULL REFERENCES metrics (code),
    quantity     numeric(20, 6) NOT NULL CHECK (quantity >= 0),
    occurred_at  timestamptz NOT NULL,
    period       date NOT NULL CHECK (extract(day FROM period) = 1),
    received_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (period);

-- One row per event ever accepted: the global idempotency key. period is the month its event is
-- stored in (what a future pruning of keys would go by; nothing reads it today).
CREATE TABLE usage_event_keys (
    customer_id  uuid NOT NULL,
    event_id     text NOT NULL,
    period       date NOT NULL
);

-- Months at or after online_from are online; below it no partition is created (retention).
CREATE TABLE usage_retention (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    online_from  date NOT NULL CHECK (extract(day FROM online_from) = 1),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
INSERT INTO usage_retention (online_from) VALUES (date '1970-01-01');

-- Every month detached by the retention job, and the table that now holds it (to export, then drop).
CREATE TABLE usage_event_archives (
    period       date PRIMARY KEY CHECK (extract(day FROM period) = 1),
    table_name   text NOT NULL UNIQUE,
    detached_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- creating partitions
-- The month of p_period's partition: 'exists', 'created', or 'archived' (the month is below
-- usage_retention.online_from: never created again). SECURITY DEFINER so that every partition is
-- saas_admin's whoever creates it, but executable by no role: the two functions below call it
-- (and a superuser may: the migrations, the tests, the benchmark's seeding). The table is created
-- alone and then attached: CREATE TABLE ... PARTITION OF would take ACCESS EXCLUSIVE on the
-- parent and stall every ingestion and billing read behind it; ATTACH takes SHARE UPDATE
-- EXCLUSIVE (and, to clone the foreign keys, SHARE ROW EXCLUSIVE on customers and metrics: their
-- writes wait for the creating transaction, their reads and the foreign-key checks do not).
CREATE FUNCTION usage_partition_create(p_period date) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_month date := date_trunc('month', p_period)::date;
    v_name text := 'usage_events_' || to_char(date_trunc('month', p_period), 'YYYY_MM');
BEGIN
    IF v_month < (SELECT online_from FROM usage_retention) THEN
        RETURN 'archived';
    END IF;
    -- One creator per month: a second caller waits here, then finds the first one's partition
    -- (each statement below takes a fresh snapshot, the catalog's included).
    PERFORM pg_advisory_xact_lock(hashtextextended('usage_events_partition:' || v_month::text, 0));
    IF EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'usage_events'::regclass AND c.relname = v_name) THEN
        RETURN 'exists';
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', v_name);
    -- Forced RLS with the tenant policies, and no grant: reachable only through the parent.
    PERFORM enable_tenant_rls(format('%I', v_name)::regclass);
    EXECUTE format('ALTER TABLE usage_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   v_name, v_month, (v_month + interval '1 month')::date);
    RETURN 'created';
END
$$;
REVOKE ALL ON FUNCTION usage_partition_create(date) FROM PUBLIC;

-- The daily jobs' entry point: the current month and p_months_ahead after it (0-24). Returns how
-- many partitions it created.
CREATE FUNCTION ensure_usage_partitions(p_months_ahead integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_current date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    v_created integer := 0;
BEGIN
    IF p_months_ahead IS NULL OR p_months_ahead NOT BETWEEN 0 AND 24 THEN
        RAISE EXCEPTION 'months ahead must be 0-24, not %', p_months_ahead USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 0 .. p_months_ahead LOOP
        IF usage_partition_create((v_current + make_interval(months => i))::date) = 'created' THEN
            v_created := v_created + 1;
        END IF;
    END LOOP;
    RETURN v_created;
END
$$;
REVOKE ALL ON FUNCTION ensure_usage_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ensure_usage_partitions(integer) TO saas_operator;

-- Ingestion's fallback for a month without a partition (the app role, inside the batch's
-- transaction: a batch refused later rolls the partition back with it). Only months an event may
-- have: 1970 up to the next month (timestamps may be 5 minutes ahead). false: archived.
CREATE FUNCTION usage_partition_for_ingest(p_period date) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_period IS NULL OR p_period < date '1970-01-01'
       OR p_period >= (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months')::date THEN
        RAISE EXCEPTION 'no usage partition for %', p_period USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN usage_partition_create(p_period) <> 'archived';
END
$$;
REVOKE ALL ON FUNCTION usage_partition_for_ingest(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION usage_partition_for_ingest(date) TO saas_app;

-- ---------------------------------------------------------------- retention
-- Detach every month older than the current one minus p_keep_months (at least 3: the billing run
-- of last month and its finalization must find its events). Plain DETACH needs ACCESS EXCLUSIVE on
-- the parent for a moment; lock_timeout makes it give up rather than queue every ingestion behind a
-- long billing read: the job fails and the next day's run detaches the month.
CREATE FUNCTION detach_expired_usage_partitions(p_keep_months integer)
RETURNS TABLE (period date, table_name text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    v_cutoff date;
    v_part record;
BEGIN
    IF p_keep_months IS NULL OR p_keep_months < 3 THEN
        RAISE EXCEPTION 'keep at least 3 months online, not %', p_keep_months
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_cutoff := (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => p_keep_months))::date;
    -- First, so no ingestion re-creates a month being detached.
    UPDATE usage_retention SET online_from = v_cutoff, updated_at = now() WHERE online_from < v_cutoff;
    FOR v_part IN
        SELECT c.relname::text AS name, to_date(substr(c.relname, 14), 'YYYY_MM') AS month
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'usage_events'::regclass AND c.relname ~ '^usage_events_[0-9]{4}_[0-9]{2}$'
           AND to_date(substr(c.relname, 14), 'YYYY_MM') < v_cutoff
         ORDER BY 2
    LOOP
        EXECUTE format('ALTER TABLE usage_events DETACH PARTITION %I', v_part.name);
        table_name := 'archived_' || v_part.name;
        EXECUTE format('ALTER TABLE %I RENAME TO %I', v_part.name, table_name);
        period := v_part.month;
        INSERT INTO usage_event_archives AS a (period, table_name) VALUES (period, table_name);
        RETURN NEXT;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION detach_expired_usage_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION detach_expired_usage_partitions(integer) TO saas_operator;

-- ---------------------------------------------------------------- the copy (one transaction)
SELECT usage_partition_create(month)
  FROM (SELECT DISTINCT period AS month FROM usage_events_0042
        UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date
        UNION SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') + interval '1 month')::date) AS months
 ORDER BY month;

INSERT INTO usage_event_keys (customer_id, event_id, period)
SELECT customer_id, event_id, period FROM usage_events_0042;
INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period, received_at)
SELECT customer_id, event_id, metric_code, quantity, occurred_at, period, received_at FROM usage_events_0042;

DROP TABLE usage_events_0042;

-- Built after the copy (faster than maintained row by row). One index per partition, created on
-- every later partition by ATTACH: a tenant's events of a month by metric (the tenant-scoped reads;
-- the month itself is the partition).
CREATE INDEX usage_events_customer_idx ON usage_events (customer_id, metric_code);
ALTER TABLE usage_event_keys ADD CONSTRAINT usage_event_keys_pkey PRIMARY KEY (customer_id, event_id);

SELECT enable_tenant_rls('usage_events');
SELECT enable_tenant_rls('usage_event_keys');

-- ---------------------------------------------------------------- privileges (as 0001 gave the old table)
GRANT SELECT, INSERT ON usage_events, usage_event_keys TO saas_app;
GRANT SELECT, INSERT, UPDATE ON usage_events TO saas_operator;
GRANT SELECT ON usage_event_keys, usage_retention, usage_event_archives TO saas_operator;
GRANT SELECT ON usage_events, usage_event_keys, usage_retention, usage_event_archives TO saas_analytics;

-- ---------------------------------------------------------------- ingestion
-- ingest_usage_events as in 0042 (same signature, result and grants: accepted, error_index and
-- error_reason, alerts_fired; duplicates in the batch and before; usage_monthly; alerts), plus:
--
-- * every month of the batch gets its partition before anything is written: normally one
--   to_regclass() per month finds it; a missing one is created (usage_partition_for_ingest);
--   a month below the retention's online_from is refused as 'period_archived';
-- * the batch's keys go into usage_event_keys first (ON CONFLICT DO NOTHING: a key another
--   transaction is inserting waits for it, so two concurrent batches sharing an event accept it
--   once); only the events whose key was new are stored, whatever month they fall in.
DROP FUNCTION ingest_usage_events(jsonb);
CREATE FUNCTION ingest_usage_events(p_events jsonb)
RETURNS TABLE (accepted integer, error_index integer, error_reason text, alerts_fired jsonb)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    v_tenant uuid := app_current_tenant();
    v_event_ids text[];
    v_metrics text[];
    v_quantities numeric[];
    v_occurred_at timestamptz[];
    v_periods date[];
    v_archived date[];
    v_period date;
    v_bad integer;
    v_accepted integer;
    v_alert_ids uuid[];
    v_alert_periods date[];
    v_alert_totals numeric[];
    v_fired jsonb;
    v_one jsonb;
BEGIN
    IF v_tenant IS NULL THEN
        RAISE EXCEPTION 'ingest_usage_events needs a tenant context' USING ERRCODE = 'insufficient_privilege';
    END IF;

    SELECT array_agg(e ->> 0 ORDER BY ord), array_agg(e ->> 1 ORDER BY ord),
           array_agg((e ->> 2)::numeric ORDER BY ord), array_agg((e ->> 3)::timestamptz ORDER BY ord)
      INTO v_event_ids, v_metrics, v_quantities, v_occurred_at
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord);

    SELECT e.ord - 1 INTO v_bad
      FROM unnest(v_metrics) WITH ORDINALITY AS e(code, ord)
     WHERE NOT EXISTS (SELECT 1 FROM metrics m WHERE m.code = e.code)
     ORDER BY e.ord LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN QUERY SELECT 0, v_bad, 'unknown_metric'::text, NULL::jsonb;
        RETURN;
    END IF;

    SELECT array_agg(DISTINCT date_trunc('month', t AT TIME ZONE 'UTC')::date ORDER BY date_trunc('month', t AT TIME ZONE 'UTC')::date)
      INTO v_periods FROM unnest(v_occurred_at) AS t;
    FOREACH v_period IN ARRAY v_periods LOOP
        PERFORM pg_advisory_xact_lock_shared(billing_period_lock_key('freeze', v_period));
    END LOOP;

    SELECT e.ord - 1 INTO v_bad
      FROM unnest(v_occurred_at) WITH ORDINALITY AS e(t, ord)
      JOIN invoices i ON i.customer_id = v_tenant
                     AND i.period = date_trunc('month', e.t AT TIME ZONE 'UTC')::date
                     AND i.status <> 'draft'
     ORDER BY e.ord LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN QUERY SELECT 0, v_bad, 'period_finalized'::text, NULL::jsonb;
        RETURN;
    END IF;

    FOREACH v_period IN ARRAY v_periods LOOP
        IF to_regclass('usage_events_' || to_char(v_period, 'YYYY_MM')) IS NULL
           AND NOT usage_partition_for_ingest(v_period) THEN
            v_archived := v_archived || v_period;
        END IF;
    END LOOP;
    IF v_archived IS NOT NULL THEN
        SELECT e.ord - 1 INTO v_bad
          FROM unnest(v_occurred_at) WITH ORDINALITY AS e(t, ord)
         WHERE date_trunc('month', e.t AT TIME ZONE 'UTC')::date = ANY (v_archived)
         ORDER BY e.ord LIMIT 1;
        RETURN QUERY SELECT 0, v_bad, 'period_archived'::text, NULL::jsonb;
        RETURN;
    END IF;

    WITH batch AS (
        SELECT b.event_id, b.metric_code, b.quantity, b.occurred_at,
               date_trunc('month', b.occurred_at AT TIME ZONE 'UTC')::date AS period, b.ord
          FROM unnest(v_event_ids, v_metrics, v_quantities, v_occurred_at)
               WITH ORDINALITY AS b(event_id, metric_code, quantity, occurred_at, ord)
    ), firsts AS (
        -- First occurrence wins; sorted by event_id: concurrent batches sharing events lock them in one order.
        SELECT DISTINCT ON (event_id) event_id, metric_code, quantity, occurred_at, period
          FROM batch ORDER BY event_id, ord
    ), new_keys AS (
        INSERT INTO usage_event_keys (customer_id, event_id, period)
        SELECT v_tenant, f.event_id, f.period FROM firsts f ORDER BY f.event_id
        ON CONFLICT (customer_id, event_id) DO NOTHING
        RETURNING usage_event_keys.event_id
    ), inserted AS (
        INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)
        SELECT v_tenant, f.event_id, f.metric_code, f.quantity, f.occurred_at, f.period
          FROM firsts f JOIN new_keys k ON k.event_id = f.event_id
        RETURNING usage_events.metric_code, usage_events.period, usage_events.quantity
    ), monthly AS (
        INSERT INTO usage_monthly AS um (customer_id, period, metric_code, quantity)
        SELECT v_tenant, ins.period, ins.metric_code, sum(ins.quantity)
          FROM inserted ins GROUP BY ins.period, ins.metric_code ORDER BY ins.period, ins.metric_code
        ON CONFLICT (customer_id, period, metric_code)
        DO UPDATE SET quantity = um.quantity + EXCLUDED.quantity, updated_at = now()
        RETURNING um.period, um.metric_code, um.quantity
    ), candidates AS (
        -- Row-level security confines usage_alerts to the tenant.
        SELECT DISTINCT ON (a.id) a.id, m.period, m.quantity
          FROM monthly m
          JOIN usage_alerts a ON a.metric_code = m.metric_code AND a.threshold <= m.quantity
         WHERE a.last_fired_period IS NULL OR a.last_fired_period < m.period
         ORDER BY a.id, m.period DESC
    )
    SELECT (SELECT count(*)::integer FROM inserted),
           (SELECT array_agg(c.id ORDER BY c.id) FROM candidates c),
           (SELECT array_agg(c.period ORDER BY c.id) FROM candidates c),
           (SELECT array_agg(c.quantity ORDER BY c.id) FROM candidates c)
      INTO v_accepted, v_alert_ids, v_alert_periods, v_alert_totals;

    -- Rare (once per alert and month): claim each candidate unless a batch that committed meanwhile did.
    FOR i IN 1 .. coalesce(array_length(v_alert_ids, 1), 0) LOOP
        UPDATE usage_alerts a SET last_fired_period = v_alert_periods[i]
         WHERE a.id = v_alert_ids[i]
           AND (a.last_fired_period IS NULL OR a.last_fired_period < v_alert_periods[i])
        RETURNING jsonb_build_object('alert_id', a.id, 'metric', a.metric_code, 'threshold', a.threshold::text,
                                     'period', to_char(v_alert_periods[i], 'YYYY-MM'),
                                     'usage', v_alert_totals[i]::text)
          INTO v_one;
        IF FOUND THEN
            v_fired := coalesce(v_fired, '[]'::jsonb) || jsonb_build_array(v_one);
        END IF;
    END LOOP;

    RETURN QUERY SELECT v_accepted, NULL::integer, NULL::text, v_fired;
END
$$;
REVOKE EXECUTE ON FUNCTION ingest_usage_events(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_usage_events(jsonb) TO saas_app;
