-- Issue 16: the guard's statement, one plain join per kind of session.
--
-- auth_request_state2 (0038) answers for every kind of credential through
-- auth_credential_state: two nested SECURITY DEFINER functions (each call
-- switches user and search_path) and a UNION ALL of three branches of which
-- the parameters keep one. That cost about 0.25 ms a request over a SELECT 1,
-- where the three index probes themselves take a few microseconds. The guard
-- knows from the token which kind it holds, so it now calls one of these:
-- one function, one query, no aggregate, the same probes (the session by its
-- jti, the key or the person by id, the customer or the operator by id) and
-- the same answers as auth_request_state2 for that kind, read now, as before:
-- nothing is kept anywhere, so a revocation, a suspension, a logout, a role,
-- password or MFA change (the person's session_epoch) is honoured on the very
-- next request. auth_request_state2 stays for a version still running during
-- a deploy.
--
-- "Live at" is still the later of now() and the caller's clock (see 0011).

SET LOCAL ROLE saas_auth;  -- the functions' owner creates them and grants on them (see 0031)

-- A customer's API-key session (key_id set, no person).
CREATE FUNCTION auth_key_session_state(p_jti text, p_customer_id uuid, p_key_id uuid, p_now timestamptz,
                                       OUT session_live boolean, OUT key_live boolean, OUT holder_active boolean,
                                       OUT tenant_role text, OUT require_mfa boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.jti IS NOT NULL,
           k.id IS NOT NULL  -- (a key the join did not find has no revoked_at either)
           AND (k.revoked_at IS NULL OR k.revoked_at > greatest(now(), p_now))
           AND (k.expires_at IS NULL OR k.expires_at > greatest(now(), p_now)),
           coalesce(c.status = 'active', false), k.role, coalesce(c.require_mfa, false)
      FROM (SELECT 1) AS one
      LEFT JOIN (api_keys k JOIN customers c ON c.id = k.customer_id)
             ON k.id = p_key_id AND k.customer_id = p_customer_id
      LEFT JOIN auth_sessions s
             ON s.jti = p_jti AND s.revoked_at IS NULL AND s.expires_at > greatest(now(), p_now)
            AND s.role = 'customer' AND s.subject = p_customer_id AND s.key_id = p_key_id
            AND s.user_id IS NULL AND s.user_epoch IS NULL
$$;

-- A person's session: live while the user exists with the session_epoch the login read.
CREATE FUNCTION auth_user_session_state(p_jti text, p_customer_id uuid, p_user_id uuid, p_now timestamptz,
                                        OUT session_live boolean, OUT key_live boolean, OUT holder_active boolean,
                                        OUT tenant_role text, OUT require_mfa boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.jti IS NOT NULL, u.id IS NOT NULL, coalesce(c.status = 'active', false), u.role,
           coalesce(c.require_mfa, false)
      FROM (SELECT 1) AS one
      LEFT JOIN (users u JOIN customers c ON c.id = u.customer_id)
             ON u.id = p_user_id AND u.customer_id = p_customer_id
      LEFT JOIN auth_sessions s
             ON s.jti = p_jti AND s.revoked_at IS NULL AND s.expires_at > greatest(now(), p_now)
            AND s.role = 'customer' AND s.subject = p_customer_id AND s.key_id IS NULL
            AND s.user_id = p_user_id AND s.user_epoch IS NOT DISTINCT FROM u.session_epoch
$$;

-- An operator's API-key session.
CREATE FUNCTION auth_operator_session_state(p_jti text, p_operator_id uuid, p_key_id uuid, p_now timestamptz,
                                            OUT session_live boolean, OUT key_live boolean, OUT holder_active boolean,
                                            OUT tenant_role text, OUT require_mfa boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.jti IS NOT NULL,
           k.id IS NOT NULL  -- (a key the join did not find has no revoked_at either)
           AND (k.revoked_at IS NULL OR k.revoked_at > greatest(now(), p_now))
           AND (k.expires_at IS NULL OR k.expires_at > greatest(now(), p_now)),
           coalesce(o.id IS NOT NULL AND o.disabled_at IS NULL, false), NULL::text, false
      FROM (SELECT 1) AS one
      LEFT JOIN (operator_api_keys k JOIN operators o ON o.id = k.operator_id)
             ON k.id = p_key_id AND k.operator_id = p_operator_id
      LEFT JOIN auth_sessions s
             ON s.jti = p_jti AND s.revoked_at IS NULL AND s.expires_at > greatest(now(), p_now)
            AND s.role = 'operator' AND s.subject = p_operator_id AND s.key_id = p_key_id
            AND s.user_id IS NULL AND s.user_epoch IS NULL
$$;

REVOKE ALL ON FUNCTION auth_key_session_state(text, uuid, uuid, timestamptz),
                       auth_user_session_state(text, uuid, uuid, timestamptz),
                       auth_operator_session_state(text, uuid, uuid, timestamptz)
    FROM PUBLIC;
-- The guard runs before any transaction, as the app role; saas_operator as for auth_request_state2.
GRANT EXECUTE ON FUNCTION auth_key_session_state(text, uuid, uuid, timestamptz),
                          auth_user_session_state(text, uuid, uuid, timestamptz),
                          auth_operator_session_state(text, uuid, uuid, timestamptz)
    TO saas_app, saas_operator;
SET LOCAL ROLE saas_admin;
