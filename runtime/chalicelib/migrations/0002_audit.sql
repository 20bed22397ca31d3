-- Append-only, hash-chained audit trail.
--
-- Each customer has its own chain (platform events without a customer share
-- the all-zero chain). An insert takes a per-chain advisory lock, links to
-- the previous row's hash and hashes its own content at stored precision, so
-- verify_audit_chain() can recompute every link and name the first broken one.
-- UPDATE, DELETE and TRUNCATE are refused for every role, the owner included;
-- the only exception is purge_expired_audit_events() (7-year retention).

CREATE TABLE audit_events (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid REFERENCES customers (id),
    chain_key    uuid NOT NULL,
    chain_seq    bigint NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    actor        text NOT NULL,
    action       text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.]*$'),
    target_type  text NOT NULL,
    target_id    text,
    detail       jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id   text,
    prev_hash    bytea,
    hash         bytea NOT NULL,
    UNIQUE (chain_key, chain_seq)
);
CREATE INDEX audit_events_customer_idx ON audit_events (customer_id, occurred_at DESC, id DESC);

CREATE FUNCTION audit_event_hash(
    p_chain_key uuid, p_chain_seq bigint, p_prev_hash bytea, p_occurred_at timestamptz,
    p_actor text, p_action text, p_target_type text, p_target_id text, p_detail jsonb, p_request_id text
) RETURNS bytea LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(convert_to(concat_ws(E'\x1f',
        p_chain_key::text,
        p_chain_seq::text,
        coalesce(encode(p_prev_hash, 'hex'), ''),
        to_char(p_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        p_actor, p_action, p_target_type,
        coalesce(p_target_id, ''),
        p_detail::text,
        coalesce(p_request_id, '')), 'UTF8'))
$$;

CREATE FUNCTION audit_events_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    previous record;
BEGIN
    NEW.chain_key := coalesce(NEW.customer_id, '00000000-0000-0000-0000-000000000000'::uuid);
    -- Serialize appends per chain; released at commit.
    PERFORM pg_advisory_xact_lock(hashtextextended('audit:' || NEW.chain_key::text, 0));
    SELECT chain_seq, hash INTO previous
      FROM audit_events WHERE chain_key = NEW.chain_key
     ORDER BY chain_seq DESC LIMIT 1;
    NEW.chain_seq := coalesce(previous.chain_seq, 0) + 1;
    NEW.prev_hash := previous.hash;
    -- Hash exactly what is stored: timestamptz keeps microseconds.
    NEW.occurred_at := date_trunc('microseconds', coalesce(NEW.occurred_at, clock_timestamp()));
    NEW.hash := audit_event_hash(NEW.chain_key, NEW.chain_seq, NEW.prev_hash, NEW.occurred_at,
        NEW.actor, NEW.action, NEW.target_type, NEW.target_id, NEW.detail, NEW.request_id);
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_link BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_link();

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('app.audit_retention_purge', true) = 'on'
       AND OLD.occurred_at < now() - interval '7 years' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- The retention job: deletes rows older than 7 years and nothing else.
CREATE FUNCTION purge_expired_audit_events() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    purged bigint;
BEGIN
    PERFORM set_config('app.audit_retention_purge', 'on', true);
    DELETE FROM audit_events WHERE occurred_at < now() - interval '7 years';
    GET DIAGNOSTICS purged = ROW_COUNT;
    PERFORM set_config('app.audit_retention_purge', 'off', true);
    RETURN purged;
END
$$;

-- Recompute a chain (NULL = the platform chain); returns the first broken
-- link, or no row when the chain is intact. Runs with the caller's rights,
-- so a tenant can verify only its own chain.
CREATE FUNCTION verify_audit_chain(p_customer_id uuid)
RETURNS TABLE (event_id uuid, chain_seq bigint, problem text) LANGUAGE plpgsql STABLE AS $$
DECLARE
    r record;
    expected_prev bytea;
    first boolean := true;
BEGIN
    FOR r IN
        SELECT * FROM audit_events a
         WHERE a.chain_key = coalesce(p_customer_id, '00000000-0000-0000-0000-000000000000'::uuid)
         ORDER BY a.chain_seq
    LOOP
        IF NOT first AND r.prev_hash IS DISTINCT FROM expected_prev THEN
            event_id := r.id; chain_seq := r.chain_seq; problem := 'prev_hash does not match the previous event';
            RETURN NEXT; RETURN;
        END IF;
        IF r.hash IS DISTINCT FROM audit_event_hash(r.chain_key, r.chain_seq, r.prev_hash, r.occurred_at,
                r.actor, r.action, r.target_type, r.target_id, r.detail, r.request_id) THEN
            event_id := r.id; chain_seq := r.chain_seq; problem := 'content does not match its hash';
            RETURN NEXT; RETURN;
        END IF;
        expected_prev := r.hash;
        first := false;
    END LOOP;
END
$$;

SELECT enable_tenant_rls('audit_events');
GRANT SELECT, INSERT ON audit_events TO saas_app;
GRANT SELECT, INSERT, DELETE ON audit_events TO saas_operator;
GRANT SELECT ON audit_events TO saas_analytics;
