-- Metering and billing: one-round-trip ingestion, frozen finalized invoices,
-- the period locks that keep ingestion and finalization apart, and the
-- columns e-mail delivery needs.

-- ---------------------------------------------------------------- period locks
-- Advisory-lock keys per billing period. 'run' serializes billing runs of one
-- period (two concurrent runs cannot both create invoices); 'freeze' is held
-- exclusively by a finalizing run and shared by ingestion, so no event can be
-- accepted into a period between the run's aggregation and its commit.
CREATE FUNCTION billing_period_lock_key(p_purpose text, p_period date) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT hashtextextended('billing:' || p_purpose || ':' || to_char(p_period, 'YYYY-MM'), 0) $$;

-- ---------------------------------------------------------------- ingestion
-- The billing run scans one period of usage_events; events arrive roughly in
-- time order, so a BRIN index finds a period's blocks at almost no insert cost.
CREATE INDEX usage_events_period_brin ON usage_events USING brin (period);

-- Ingest one batch for the current tenant in one call (one round trip).
-- p_events is a JSON array of [event_id, metric, quantity, timestamp] with
-- quantity and timestamp as text: one parameter that PostgreSQL parses
-- natively (the quantity becomes an exact numeric, never a float). Returns
-- one row: the number of new events, or the 0-based index of the first
-- offending event and why ('unknown_metric', 'period_finalized'); nothing is
-- written in that case. Duplicates (inside the batch or already stored) are
-- skipped, first occurrence wins. usage_monthly is kept current in the same
-- statement. VOLATILE on purpose: in READ COMMITTED each statement below takes
-- a fresh snapshot, so the finalized-period check sees a billing run that
-- committed while we waited for the freeze lock.
CREATE FUNCTION ingest_usage_events(p_events jsonb)
RETURNS TABLE (accepted integer, error_index integer, error_reason text)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $$
DECLARE
    v_tenant uuid := app_current_tenant();
    v_event_ids text[];
    v_metrics text[];
    v_quantities numeric[];
    v_occurred_at timestamptz[];
    v_period date;
    v_bad integer;
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
        RETURN QUERY SELECT 0, v_bad, 'unknown_metric'::text;
        RETURN;
    END IF;

    FOR v_period IN
        SELECT DISTINCT date_trunc('month', t AT TIME ZONE 'UTC')::date FROM unnest(v_occurred_at) AS t ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock_shared(billing_period_lock_key('freeze', v_period));
    END LOOP;

    SELECT e.ord - 1 INTO v_bad
      FROM unnest(v_occurred_at) WITH ORDINALITY AS e(t, ord)
      JOIN invoices i ON i.customer_id = v_tenant
                     AND i.period = date_trunc('month', e.t AT TIME ZONE 'UTC')::date
                     AND i.status <> 'draft'
     ORDER BY e.ord LIMIT 1;
    IF v_bad IS NOT NULL THEN
        RETURN QUERY SELECT 0, v_bad, 'period_finalized'::text;
        RETURN;
    END IF;

    RETURN QUERY
    WITH batch AS (
        SELECT b.event_id, b.metric_code, b.quantity, b.occurred_at,
               date_trunc('month', b.occurred_at AT TIME ZONE 'UTC')::date AS period, b.ord
          FROM unnest(v_event_ids, v_metrics, v_quantities, v_occurred_at)
               WITH ORDINALITY AS b(event_id, metric_code, quantity, occurred_at, ord)
    ), inserted AS (
        -- Sorted by event_id: concurrent batches sharing events lock them in one order.
        INSERT INTO usage_events (customer_id, event_id, metric_code, quantity, occurred_at, period)
        SELECT DISTINCT ON (event_id) v_tenant, event_id, metric_code, quantity, occurred_at, period
          FROM batch ORDER BY event_id, ord
        ON CONFLICT (customer_id, event_id) DO NOTHING
        RETURNING usage_events.metric_code, usage_events.period, usage_events.quantity
    ), monthly AS (
        INSERT INTO usage_monthly AS um (customer_id, period, metric_code, quantity)
        SELECT v_tenant, ins.period, ins.metric_code, sum(ins.quantity)
          FROM inserted ins GROUP BY ins.period, ins.metric_code ORDER BY ins.period, ins.metric_code
        ON CONFLICT (customer_id, period, metric_code)
        DO UPDATE SET quantity = um.quantity + EXCLUDED.quantity, updated_at = now()
    )
    SELECT count(*)::integer, NULL::integer, NULL::text FROM inserted;
END
$$;
REVOKE EXECUTE ON FUNCTION ingest_usage_events(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_usage_events(jsonb) TO saas_app;

-- ---------------------------------------------------------------- frozen invoices
-- A finalized invoice never changes. Only its status may move on
-- (finalized -> paid | void), with every amount, line and date untouched.
CREATE FUNCTION invoices_refuse_frozen_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'draft' THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'finalized' AND NEW.status IN ('paid', 'void')
       AND (NEW.id, NEW.customer_id, NEW.number, NEW.period, NEW.currency, NEW.tier_code, NEW.tax_rate,
            NEW.subtotal, NEW.discount, NEW.tax, NEW.total, NEW.billing_run_id, NEW.created_at,
            NEW.finalized_at, NEW.due_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.customer_id, OLD.number, OLD.period, OLD.currency, OLD.tier_code, OLD.tax_rate,
            OLD.subtotal, OLD.discount, OLD.tax, OLD.total, OLD.billing_run_id, OLD.created_at,
            OLD.finalized_at, OLD.due_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'invoice % is % and cannot change (% refused)', OLD.number, OLD.status, TG_OP
        USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
CREATE TRIGGER invoices_frozen BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION invoices_refuse_frozen_change();

-- Lines may change only while their invoice is a draft (checked once per
-- statement over the transition table: a run writes thousands of lines).
-- An invoice the caller cannot see counts as not-a-draft: refuse.
CREATE FUNCTION invoice_lines_refuse_frozen_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_lines n LEFT JOIN invoices i ON i.id = n.invoice_id
                WHERE i.status IS DISTINCT FROM 'draft') THEN
        RAISE EXCEPTION 'lines of a finalized invoice cannot change (% refused)', TG_OP
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NULL;
END
$$;
CREATE FUNCTION invoice_lines_refuse_frozen_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM previous_lines o LEFT JOIN invoices i ON i.id = o.invoice_id
                WHERE i.status IS DISTINCT FROM 'draft') THEN
        RAISE EXCEPTION 'lines of a finalized invoice cannot change (% refused)', TG_OP
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER invoice_lines_frozen_insert AFTER INSERT ON invoice_lines
    REFERENCING NEW TABLE AS changed_lines FOR EACH STATEMENT EXECUTE FUNCTION invoice_lines_refuse_frozen_new();
CREATE TRIGGER invoice_lines_frozen_update_new AFTER UPDATE ON invoice_lines
    REFERENCING NEW TABLE AS changed_lines FOR EACH STATEMENT EXECUTE FUNCTION invoice_lines_refuse_frozen_new();
CREATE TRIGGER invoice_lines_frozen_update_old AFTER UPDATE ON invoice_lines
    REFERENCING OLD TABLE AS previous_lines FOR EACH STATEMENT EXECUTE FUNCTION invoice_lines_refuse_frozen_old();
CREATE TRIGGER invoice_lines_frozen_delete AFTER DELETE ON invoice_lines
    REFERENCING OLD TABLE AS previous_lines FOR EACH STATEMENT EXECUTE FUNCTION invoice_lines_refuse_frozen_old();
CREATE FUNCTION invoice_lines_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'invoice_lines cannot be truncated' USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
CREATE TRIGGER invoice_lines_no_truncate BEFORE TRUNCATE ON invoice_lines
    FOR EACH STATEMENT EXECUTE FUNCTION invoice_lines_refuse_truncate();

-- The daily job looks for old drafts; the monthly run reads a period's invoices.
CREATE INDEX invoices_period_idx ON invoices (period, customer_id);

-- ---------------------------------------------------------------- notifications
-- What is sent is stored with the row: a retry sends exactly what was queued.
ALTER TABLE notifications
    ADD COLUMN text_body text,
    ADD COLUMN html_body text,
    ADD COLUMN last_attempt_at timestamptz;
CREATE INDEX notifications_pending_created_idx ON notifications (created_at) WHERE status <> 'sent';
