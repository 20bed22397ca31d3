-- Issue 16: a session, its refresh token and its family live in PostgreSQL only.
--
-- POST /auth/authenticate used to record each session twice: its row here
-- (auth_sessions, which the guard reads on every request, migration 0011) and
-- a DynamoDB record of the session and its refresh token (one BatchWriteItem,
-- three quarters of a cache hit's time). The refresh token now sits on the
-- session's row, written by the statement that already opens the session
-- (auth_open_session3), so authentication writes once, in one place, and a
-- refresh's single use, its reuse detection and a family's revocation are
-- PostgreSQL transactions instead of a sequence of conditional DynamoDB writes
-- (and no longer fail with a DynamoDB outage).
--
-- auth_sessions gains, for the rows written from now on:
--   family              the sessions refreshed from one authentication: its first session's jti
--   amr                 how that authentication was made ("key", "pwd", "pwd otp")
--   refresh_hash        the SHA-256 (hex) of the session's single-use refresh token
--   refresh_expires_at  when that refresh token stops working
--   refresh_used_at     when it was redeemed: presented again, it has leaked (reuse)
--   created_at          when the row, i.e. the token pair, was issued
-- A row is kept until both its access token and its refresh token have
-- expired (auth_purge_sessions). Refresh tokens issued before this migration
-- exist only in DynamoDB and are refused (401): the client authenticates again.
--
-- auth_session_families: a row per family that was refreshed or revoked (made
-- when first needed, so authentication writes none). Its row lock orders a
-- refresh that adds a session to the family against a revocation of the
-- family: both take it before touching the family's sessions, so whichever
-- comes second sees what the first did - a revocation lists the session the
-- refresh added, or the refresh sees the revocation and adds none.

ALTER TABLE auth_sessions
    ADD COLUMN family text CHECK (length(family) BETWEEN 1 AND 64),
    ADD COLUMN amr text CHECK (length(amr) <= 32),
    ADD COLUMN refresh_hash text CHECK (refresh_hash ~ '^[0-9a-f]{64}$'),
    ADD COLUMN refresh_expires_at timestamptz,
    ADD COLUMN refresh_used_at timestamptz,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
CREATE UNIQUE INDEX auth_sessions_refresh_idx ON auth_sessions (refresh_hash) WHERE refresh_hash IS NOT NULL;
CREATE INDEX auth_sessions_family_idx ON auth_sessions (family) WHERE family IS NOT NULL;
-- The suspension trigger (0032) finds a customer's sessions by subject.
CREATE INDEX auth_sessions_subject_idx ON auth_sessions (subject);
CREATE INDEX auth_sessions_purge_idx ON auth_sessions ((greatest(expires_at, refresh_expires_at)));
DROP INDEX auth_sessions_expires_idx;  -- the purge's order, now the expression above

CREATE TABLE auth_session_families (
    family      text PRIMARY KEY CHECK (length(family) BETWEEN 1 AND 64),
    revoked_at  timestamptz,
    expires_at  timestamptz NOT NULL  -- no refresh token of the family outlives it
);
CREATE INDEX auth_session_families_expires_idx ON auth_session_families (expires_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON auth_session_families TO saas_auth;
-- A refresh refuses a token issued before the customer's last suspension (0032).
GRANT SELECT (sessions_valid_from) ON customers TO saas_auth;

SET LOCAL ROLE saas_auth;  -- the functions' owner creates them and grants on them (see 0031)

-- auth_open_session2 (0038) that also records the refresh token; a new family is named after the session.
CREATE FUNCTION auth_open_session3(p_jti text, p_role text, p_subject uuid, p_key_id uuid, p_user_id uuid,
                                   p_user_epoch integer, p_expires_at timestamptz, p_now timestamptz,
                                   p_amr text, p_refresh_hash text, p_refresh_expires_at timestamptz,
                                   OUT key_live boolean, OUT holder_active boolean, OUT tenant_role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_epoch integer;
BEGIN
    SELECT st.key_live, st.holder_active, st.tenant_role, st.user_epoch
      INTO key_live, holder_active, tenant_role, v_epoch
      FROM auth_credential_state(p_role, p_subject, p_key_id, p_user_id, greatest(now(), p_now)) AS st;
    IF p_user_id IS NOT NULL AND v_epoch IS DISTINCT FROM p_user_epoch THEN
        key_live := false;  -- the password, the role or MFA changed since this login read the user
    END IF;
    IF key_live AND holder_active THEN
        INSERT INTO auth_sessions (jti, role, subject, key_id, user_id, user_epoch, expires_at,
                                   family, amr, refresh_hash, refresh_expires_at)
        VALUES (p_jti, p_role, p_subject, p_key_id, p_user_id, v_epoch, p_expires_at,
                p_jti, p_amr, p_refresh_hash, p_refresh_expires_at)
        ON CONFLICT (jti) DO NOTHING;  -- a tombstone (revoked first) stays revoked, its refresh unusable
    END IF;
END
$$;

-- Whose refresh token this is, so the caller can open the holder's transaction (and audit
-- on the right chain) before redeeming it there with auth_refresh_session.
CREATE FUNCTION auth_refresh_holder(p_refresh_hash text)
RETURNS TABLE (role text, subject uuid, key_id uuid, user_id uuid, amr text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.role, s.subject, s.key_id, s.user_id, s.amr FROM auth_sessions s WHERE s.refresh_hash = p_refresh_hash
$$;

-- Revoke a family: its row locked first (the order auth_refresh_session takes), then every session in it.
CREATE FUNCTION auth_revoke_family(p_family text, p_until timestamptz) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_count integer;
BEGIN
    INSERT INTO auth_session_families AS f (family, revoked_at, expires_at) VALUES (p_family, now(), p_until)
    ON CONFLICT (family) DO UPDATE
        SET revoked_at = coalesce(f.revoked_at, now()), expires_at = greatest(f.expires_at, excluded.expires_at);
    UPDATE auth_sessions s SET revoked_at = now() WHERE s.family = p_family AND s.revoked_at IS NULL;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;

-- Logout: the session and every session of its family; a jti not recorded gets a revoked tombstone.
CREATE FUNCTION auth_end_session(p_jti text, p_until timestamptz) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_family text;
    v_count integer := 0;
BEGIN
    SELECT s.family INTO v_family FROM auth_sessions s WHERE s.jti = p_jti;
    IF v_family IS NOT NULL THEN
        v_count := auth_revoke_family(v_family, p_until);
    END IF;
    PERFORM auth_revoke_sessions(ARRAY[p_jti], p_until);
    RETURN v_count;
END
$$;

-- Redeem a refresh token once: open the new session p_jti in the same family and revoke the old one.
--
-- outcome: 'ok'; 'unknown' (no such token, or expired); 'reused' (redeemed before: it leaked,
-- and the whole family is revoked here, in the same transaction); 'refused' (the credential is
-- dead or its holder inactive now: key_live / holder_active say which; the token is not spent);
-- 'revoked' (the session or its family was ended: logout, reuse, suspension).
-- The family's row is locked before the session's, as auth_revoke_family does.
CREATE FUNCTION auth_refresh_session(p_refresh_hash text, p_jti text, p_expires_at timestamptz,
                                     p_new_refresh_hash text, p_refresh_expires_at timestamptz, p_now timestamptz,
                                     OUT outcome text, OUT previous_jti text, OUT session_family text,
                                     OUT key_live boolean, OUT holder_active boolean, OUT tenant_role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_at timestamptz := greatest(now(), p_now);
    v_old auth_sessions%ROWTYPE;
    v_family_revoked timestamptz;
    v_epoch integer;
    v_valid_from timestamptz;
BEGIN
    SELECT s.jti, s.family INTO previous_jti, session_family FROM auth_sessions s WHERE s.refresh_hash = p_refresh_hash;
    IF NOT FOUND THEN
        outcome := 'unknown';
        RETURN;
    END IF;
    INSERT INTO auth_session_families AS f (family, expires_at) VALUES (session_family, p_refresh_expires_at)
    ON CONFLICT (family) DO UPDATE SET expires_at = greatest(f.expires_at, excluded.expires_at)
    RETURNING f.revoked_at INTO v_family_revoked;
    SELECT s.* INTO v_old FROM auth_sessions s WHERE s.jti = previous_jti FOR UPDATE;
    IF v_old.refresh_used_at IS NOT NULL THEN
        PERFORM auth_revoke_family(session_family, greatest(v_old.refresh_expires_at, p_refresh_expires_at));
        outcome := 'reused';
        RETURN;
    END IF;
    IF v_old.refresh_expires_at <= v_at THEN
        outcome := 'unknown';
        RETURN;
    END IF;
    SELECT st.key_live, st.holder_active, st.tenant_role, st.user_epoch
      INTO key_live, holder_active, tenant_role, v_epoch
      FROM auth_credential_state(v_old.role, v_old.subject, v_old.key_id, v_old.user_id, v_at) AS st;
    IF v_old.user_id IS NOT NULL AND v_epoch IS DISTINCT FROM v_old.user_epoch THEN
        key_live := false;
    END IF;
    IF NOT (key_live AND holder_active) THEN
        outcome := 'refused';
        RETURN;
    END IF;
    IF v_old.role = 'customer' THEN
        SELECT c.sessions_valid_from INTO v_valid_from FROM customers c WHERE c.id = v_old.subject;
        IF v_old.created_at < v_valid_from THEN
            -- Issued before the customer's last suspension: the family ends (the suspension's
            -- trigger revoked its sessions too, unless one was opened while it committed).
            PERFORM auth_revoke_family(session_family, v_old.refresh_expires_at);
            outcome := 'revoked';
            RETURN;
        END IF;
    END IF;
    IF v_old.revoked_at IS NOT NULL OR v_family_revoked IS NOT NULL THEN
        outcome := 'revoked';
        RETURN;
    END IF;
    UPDATE auth_sessions s SET refresh_used_at = now(), revoked_at = now() WHERE s.jti = previous_jti;
    INSERT INTO auth_sessions (jti, role, subject, key_id, user_id, user_epoch, expires_at,
                               family, amr, refresh_hash, refresh_expires_at)
    VALUES (p_jti, v_old.role, v_old.subject, v_old.key_id, v_old.user_id, v_old.user_epoch, p_expires_at,
            session_family, v_old.amr, p_new_refresh_hash, p_refresh_expires_at);
    outcome := 'ok';
END
$$;

-- Rows are kept while either token may still be presented; families while a token of theirs may.
CREATE OR REPLACE FUNCTION auth_purge_sessions(p_limit integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (
        DELETE FROM auth_sessions WHERE jti IN (
            SELECT jti FROM auth_sessions WHERE greatest(expires_at, refresh_expires_at) < now()
             ORDER BY greatest(expires_at, refresh_expires_at) LIMIT greatest(p_limit, 0) FOR UPDATE SKIP LOCKED)
        RETURNING 1),
    families AS (
        DELETE FROM auth_session_families WHERE family IN (
            SELECT family FROM auth_session_families WHERE expires_at < now()
             ORDER BY expires_at LIMIT greatest(p_limit, 0) FOR UPDATE SKIP LOCKED))
    SELECT count(*)::integer FROM gone
$$;

REVOKE ALL ON FUNCTION auth_open_session3(text, text, uuid, uuid, uuid, integer, timestamptz, timestamptz, text, text,
                                          timestamptz),
                       auth_refresh_holder(text),
                       auth_revoke_family(text, timestamptz),
                       auth_end_session(text, timestamptz),
                       auth_refresh_session(text, text, timestamptz, text, timestamptz, timestamptz)
    FROM PUBLIC;
-- saas_operator too: an operator's sessions are opened, refreshed and ended in operator_transaction.
-- auth_revoke_family is a helper of the two below it (they run as saas_auth): no grant.
GRANT EXECUTE ON FUNCTION auth_open_session3(text, text, uuid, uuid, uuid, integer, timestamptz, timestamptz, text,
                                             text, timestamptz),
                          auth_refresh_holder(text),
                          auth_end_session(text, timestamptz),
                          auth_refresh_session(text, text, timestamptz, text, timestamptz, timestamptz)
    TO saas_app, saas_operator;
SET LOCAL ROLE saas_admin;
