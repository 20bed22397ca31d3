-- Issue 11, item 9: audit integrity.
--
-- Until now the INSERT decided occurred_at and actor (the trigger only
-- filled occurred_at when it was NULL), and the refuse-change trigger let a
-- DELETE through whenever the GUC app.audit_retention_purge was 'on' - a
-- setting any role may set. So the app role could append a row dated eight
-- years back (it becomes the chain's tail) and then delete it again, and
-- verify_audit_chain() still found an intact chain. Now:
--
-- * occurred_at is the database's clock, read by the BEFORE INSERT trigger
--   after it holds the chain lock; a value in the INSERT is discarded.
--
-- * actor is the transaction's app.actor setting, set transaction-locally by
--   the runtime in one place (core.db's transaction helpers, from the
--   authenticated principal, or a named job such as 'system:billing'); an
--   actor in the INSERT is discarded. Without the setting the row names the
--   database role (e.g. 'db:saas_app_user'), never what the INSERT claimed. The
--   database cannot itself authenticate the runtime's caller, so this makes
--   the actor one server-side decision instead of a column every INSERT
--   fills; the guarantees the database enforces on its own are the two that
--   matter for the attack above: the time, and who may delete.
--
-- * A row is deleted only by purge_expired_audit_events(), which runs as its
--   own NOLOGIN role saas_audit_purge (SECURITY DEFINER, pinned search_path)
--   and deletes rows older than 7 years by that clock. The refuse-change
--   trigger tests current_user, which no GUC can change; the GUC is ignored.
--   saas_operator (the scheduled job's role) may EXECUTE the purge and no
--   longer holds DELETE on the table; no other role may execute it.
--
-- The hash function and verify_audit_chain() are unchanged: the hash covers
-- the stored values as before, so every existing chain still verifies.

CREATE OR REPLACE FUNCTION audit_events_link() RETURNS trigger LANGUAGE plpgsql AS $$
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
    -- The server decides when and who, whatever the INSERT said. Read under the
    -- chain lock, so occurred_at follows chain_seq. Microseconds: what is stored
    -- is exactly what is hashed.
    NEW.occurred_at := date_trunc('microseconds', clock_timestamp());
    NEW.actor := coalesce(nullif(current_setting('app.actor', true), ''), 'db:' || current_user);
    NEW.hash := audit_event_hash(NEW.chain_key, NEW.chain_seq, NEW.prev_hash, NEW.occurred_at,
        NEW.actor, NEW.action, NEW.target_type, NEW.target_id, NEW.detail, NEW.request_id);
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only the retention purge's own role, and only for expired rows. current_user
    -- is saas_audit_purge inside purge_expired_audit_events() (SECURITY DEFINER);
    -- nothing a session can SET makes it so for anyone else.
    IF TG_OP = 'DELETE'
       AND current_user = 'saas_audit_purge'
       AND OLD.occurred_at < now() - interval '7 years' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- The purge role sees and deletes expired rows only (FORCE RLS applies to it).
GRANT SELECT, DELETE ON audit_events TO saas_audit_purge;
CREATE POLICY retention_purge_read ON audit_events FOR SELECT TO saas_audit_purge
    USING (occurred_at < now() - interval '7 years');
CREATE POLICY retention_purge ON audit_events FOR DELETE TO saas_audit_purge
    USING (occurred_at < now() - interval '7 years');
REVOKE DELETE ON audit_events FROM saas_operator;

DROP FUNCTION purge_expired_audit_events();
-- The retention job: deletes rows older than 7 years and nothing else.
CREATE FUNCTION purge_expired_audit_events() RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    purged bigint;
BEGIN
    DELETE FROM audit_events WHERE occurred_at < now() - interval '7 years';
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END
$$;
ALTER FUNCTION purge_expired_audit_events() OWNER TO saas_audit_purge;

-- Grants on it are made by its owner (as migration 0031 explains, saas_admin,
-- a member without INHERIT, would silently grant and revoke nothing).
SET LOCAL ROLE saas_audit_purge;
REVOKE ALL ON FUNCTION purge_expired_audit_events() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purge_expired_audit_events() TO saas_operator;
SET LOCAL ROLE saas_admin;
