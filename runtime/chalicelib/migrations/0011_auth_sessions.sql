-- Per-request authorization in one PostgreSQL round trip.
--
-- The guard used to read DynamoDB (session row, key marker, customer flag) on
-- every request. It now calls auth_request_state(), which answers from
-- api_keys / customers (or operator_api_keys / operators) directly, so a key
-- revoked, a rotation's overlap ending or a customer suspended - through the
-- API or straight in the database - is seen on the very next request by every
-- process, and from auth_sessions, which knows every access token's session:
--
--   * a row per session, inserted (by auth_open_session, only while the key is
--     live and its holder active) before the token is handed out; a validly
--     signed token whose jti has no row is refused;
--   * revoked_at set on logout, refresh (the refreshed-away token) and
--     refresh-reuse (the whole family). A revocation that arrives before the
--     row (a race with a refresh) leaves a tombstone that the later insert
--     does not overwrite.
--
-- Not tenant data (operator sessions live here too, and it holds no secret):
-- no RLS, and the app roles get no direct privilege on it at all; they go
-- through the SECURITY DEFINER functions below, owned by saas_auth like the
-- key lookups of 0010. Rows are useless once expires_at (the token's exp) has
-- passed; auth_purge_sessions() deletes them in small batches.
--
-- Times: "live at" means live at the later of the database's now() and the
-- caller's clock (p_now): a key revoked or expired by either clock is dead,
-- so a small clock skew can never extend a key's life, and the service's own
-- clock (which also judges the token's exp) is honoured.

CREATE TABLE auth_sessions (
    jti         text PRIMARY KEY CHECK (length(jti) BETWEEN 1 AND 64),
    role        text CHECK (role IN ('customer', 'operator')),
    subject     uuid,
    key_id      uuid,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX auth_sessions_expires_idx ON auth_sessions (expires_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON auth_sessions TO saas_auth;

-- Live state of one key and its holder at p_now (helper of the two functions below).
CREATE FUNCTION auth_key_state(p_role text, p_subject uuid, p_key_id uuid, p_now timestamptz,
                               OUT key_live boolean, OUT holder_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(bool_or(x.live), false), coalesce(bool_or(x.active), false)
      FROM (SELECT (k.revoked_at IS NULL OR k.revoked_at > p_now)
                   AND (k.expires_at IS NULL OR k.expires_at > p_now) AS live,
                   c.status = 'active' AS active
              FROM api_keys k JOIN customers c ON c.id = k.customer_id
             WHERE p_role = 'customer' AND k.id = p_key_id AND k.customer_id = p_subject
            UNION ALL
            SELECT (k.revoked_at IS NULL OR k.revoked_at > p_now)
                   AND (k.expires_at IS NULL OR k.expires_at > p_now),
                   o.disabled_at IS NULL
              FROM operator_api_keys k JOIN operators o ON o.id = k.operator_id
             WHERE p_role = 'operator' AND k.id = p_key_id AND k.operator_id = p_subject) AS x
$$;

-- The guard's one round trip: is this token's session, its key and its holder live?
CREATE FUNCTION auth_request_state(p_role text, p_subject uuid, p_key_id uuid, p_jti text, p_now timestamptz,
                                   OUT session_live boolean, OUT key_live boolean, OUT holder_active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM auth_sessions s
                    WHERE s.jti = p_jti AND s.revoked_at IS NULL AND s.expires_at > greatest(now(), p_now)
                      AND s.role = p_role AND s.subject = p_subject AND s.key_id = p_key_id),
           st.key_live, st.holder_active
      FROM auth_key_state(p_role, p_subject, p_key_id, greatest(now(), p_now)) AS st
$$;

-- Record a new session, but only while its key is live and its holder active
-- (read in the same statement, so a revocation or suspension committed before
-- it is never missed). Returns the state it decided on.
CREATE FUNCTION auth_open_session(p_jti text, p_role text, p_subject uuid, p_key_id uuid, p_expires_at timestamptz,
                                  p_now timestamptz, OUT key_live boolean, OUT holder_active boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    SELECT st.key_live, st.holder_active INTO key_live, holder_active
      FROM auth_key_state(p_role, p_subject, p_key_id, greatest(now(), p_now)) AS st;
    IF key_live AND holder_active THEN
        INSERT INTO auth_sessions (jti, role, subject, key_id, expires_at)
        VALUES (p_jti, p_role, p_subject, p_key_id, p_expires_at)
        ON CONFLICT (jti) DO NOTHING;  -- a tombstone (revoked first) stays revoked
    END IF;
END
$$;

-- Revoke sessions by jti; a jti not seen yet gets a revoked tombstone.
CREATE FUNCTION auth_revoke_sessions(p_jtis text[], p_expires_at timestamptz) RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO auth_sessions (jti, expires_at, revoked_at)
    SELECT DISTINCT j, p_expires_at, now() FROM unnest(p_jtis) AS j
        WHERE j IS NOT NULL AND length(j) BETWEEN 1 AND 64
    ON CONFLICT (jti) DO UPDATE SET revoked_at = coalesce(auth_sessions.revoked_at, now())
$$;

-- Delete up to p_limit rows whose token has expired (the token itself is refused by its exp).
CREATE FUNCTION auth_purge_sessions(p_limit integer) RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (
        DELETE FROM auth_sessions WHERE jti IN (
            SELECT jti FROM auth_sessions WHERE expires_at < now()
             ORDER BY expires_at LIMIT greatest(p_limit, 0) FOR UPDATE SKIP LOCKED)
        RETURNING 1)
    SELECT count(*)::integer FROM gone
$$;

ALTER FUNCTION auth_key_state(text, uuid, uuid, timestamptz) OWNER TO saas_auth;
ALTER FUNCTION auth_request_state(text, uuid, uuid, text, timestamptz) OWNER TO saas_auth;
ALTER FUNCTION auth_open_session(text, text, uuid, uuid, timestamptz, timestamptz) OWNER TO saas_auth;
ALTER FUNCTION auth_revoke_sessions(text[], timestamptz) OWNER TO saas_auth;
ALTER FUNCTION auth_purge_sessions(integer) OWNER TO saas_auth;
REVOKE EXECUTE ON FUNCTION auth_key_state(text, uuid, uuid, timestamptz),
                           auth_request_state(text, uuid, uuid, text, timestamptz),
                           auth_open_session(text, text, uuid, uuid, timestamptz, timestamptz),
                           auth_revoke_sessions(text[], timestamptz),
                           auth_purge_sessions(integer) FROM PUBLIC;
-- saas_operator too: operator authentication records its session inside operator_transaction.
GRANT EXECUTE ON FUNCTION auth_request_state(text, uuid, uuid, text, timestamptz),
                          auth_open_session(text, text, uuid, uuid, timestamptz, timestamptz),
                          auth_revoke_sessions(text[], timestamptz),
                          auth_purge_sessions(integer) TO saas_app, saas_operator;
