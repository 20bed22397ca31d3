-- Issue 14, part D: usage alerts. A tenant sets thresholds per metric; when a
-- month's usage of that metric reaches one, it fires once for that month: one
-- e-mail and one usage.threshold_reached webhook, queued by the runtime in the
-- transaction that ingested the crossing batch.
--
-- last_fired_period is the month it last fired. It only moves forward: an
-- alert that fired for March does not fire for February when late February
-- events arrive afterwards (firing February would set it back and let March
-- fire a second time).
CREATE TABLE usage_alerts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id        uuid NOT NULL REFERENCES customers (id),
    metric_code        text NOT NULL REFERENCES metrics (code),
    -- The scale and bound of a month's usage (usage_monthly, migration 0030): exact, never rounded.
    threshold          numeric(24, 6) NOT NULL CHECK (threshold > 0 AND threshold <= 10000000000),
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_fired_period  date CHECK (extract(day FROM last_fired_period) = 1),
    -- Two equal alerts would send the same e-mail twice; also the ingestion lookup's index.
    CONSTRAINT usage_alerts_threshold_key UNIQUE (customer_id, metric_code, threshold)
);

SELECT enable_tenant_rls('usage_alerts');

-- The app manages its tenant's alerts; ingestion (SECURITY INVOKER, as the
-- app) claims a firing by moving last_fired_period, the only column it updates.
GRANT SELECT, INSERT, DELETE ON usage_alerts TO saas_app;
GRANT UPDATE (last_fired_period) ON usage_alerts TO saas_app;
GRANT SELECT ON usage_alerts TO saas_operator, saas_analytics;

-- ---------------------------------------------------------------- ingestion
-- ingest_usage_events (migration 0020) gains a fourth column, alerts_fired:
-- the alerts this batch made fire, as a JSON array of
-- {"alert_id", "metric", "threshold", "period": "YYYY-MM", "usage"} (numbers
-- as strings: exact), or NULL. The body is 0020's, plus the crossing check:
--
-- * The monthly upsert returns the new totals of the months and metrics the
--   batch touched; in the same statement they are compared with the tenant's
--   alerts (one index probe per touched total: nothing to find when the tenant
--   has none). No extra round trip, with or without alerts.
-- * Each candidate is then claimed with a conditional UPDATE, one row at a
--   time in id order (concurrent batches lock alerts in one order). The batch
--   already holds the row lock of that month's total, so two batches crossing
--   the same threshold are serialized there, and the second one's UPDATE
--   re-checks last_fired_period after the first commits: it fires once.
-- * A batch touching several months of a metric fires an alert for the latest
--   month that reached it.
-- The return type changes, so the function is dropped and created again
-- (same name, same argument, same grants).
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
        RETURN QUERY SELECT 0, v_bad, 'period_finalized'::text, NULL::jsonb;
        RETURN;
    END IF;

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
