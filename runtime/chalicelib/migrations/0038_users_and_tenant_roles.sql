-- Issue 13: people at a tenant (users with passwords and MFA) and tenant roles.
--
-- Tenant roles. Every credential of a tenant acts with one role of the
-- contract's table (owner, admin, billing, developer, viewer). API keys get a
-- column: every key that exists when this migration runs - and so every key
-- made at onboarding before it - becomes 'admin', the role it effectively
-- had (it could do everything a tenant may). After that the column's default
-- is the contract's default for POST /api-keys, 'developer'; onboarding names
-- 'admin' explicitly.
ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin'
    CHECK (role IN ('owner', 'admin', 'billing', 'developer', 'viewer'));
ALTER TABLE api_keys ALTER COLUMN role SET DEFAULT 'developer';

-- The tenant's setting: while true, a person's session without a second factor is refused.
ALTER TABLE customers ADD COLUMN require_mfa boolean NOT NULL DEFAULT false;

-- People. E-mail addresses are unique across the platform: POST /auth/login
-- names no tenant, so an address must name one account (a person who works
-- for two customers uses two addresses). Stored lowercased.
--
-- session_epoch ends every session of the user at once: a session is opened
-- with the epoch read when the password was checked, and the per-request
-- check (auth_request_state2) compares it with the row's. Removing the user
-- (the row is deleted), changing their role, resetting their password or
-- disabling MFA bump it (or delete the row), in the same transaction as the
-- change, so no session opened before the change survives it.
CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id         uuid NOT NULL REFERENCES customers (id),
    email               text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role                text NOT NULL CHECK (role IN ('owner', 'admin', 'billing', 'developer', 'viewer')),
    password_hash       text NOT NULL,
    -- The TOTP secret, encrypted (KMS ciphertext bound to the user); never in clear.
    mfa_secret          bytea,
    mfa_pending_secret  bytea,
    mfa_enabled         boolean NOT NULL DEFAULT false,
    -- The last TOTP time step accepted: a code is accepted once (replay in its window is refused).
    mfa_last_step       bigint NOT NULL DEFAULT 0,
    session_epoch       integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_mfa_secret CHECK (NOT mfa_enabled OR mfa_secret IS NOT NULL)
);
CREATE INDEX users_customer_idx ON users (customer_id, created_at, id);

-- Invitations: the token is random, stored hashed (SHA-256), single use, 7 days.
CREATE TABLE user_invitations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid NOT NULL REFERENCES customers (id),
    email        text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'billing', 'developer', 'viewer')),
    token_hash   text NOT NULL UNIQUE,
    invited_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    user_id      uuid REFERENCES users (id) ON DELETE SET NULL
);
CREATE INDEX user_invitations_customer_idx ON user_invitations (customer_id, email);

-- Single-use tokens of a user: password reset (1 hour) and the MFA step of a
-- login (5 minutes, a bounded number of wrong codes). Stored hashed.
CREATE TABLE user_tokens (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid NOT NULL REFERENCES customers (id),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      text NOT NULL CHECK (purpose IN ('password_reset', 'mfa_login')),
    token_hash   text NOT NULL UNIQUE,
    session_epoch integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    failed_attempts integer NOT NULL DEFAULT 0
);
CREATE INDEX user_tokens_user_idx ON user_tokens (user_id, purpose);

-- Ten recovery codes per enrolment, stored hashed, each usable once.
CREATE TABLE user_recovery_codes (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id  uuid NOT NULL REFERENCES customers (id),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash    text NOT NULL,
    used_at      timestamptz,
    UNIQUE (user_id, code_hash)
);

SELECT enable_tenant_rls('users');
SELECT enable_tenant_rls('user_invitations');
SELECT enable_tenant_rls('user_tokens');
SELECT enable_tenant_rls('user_recovery_codes');

GRANT SELECT, INSERT, UPDATE, DELETE ON users, user_recovery_codes TO saas_app;
GRANT SELECT, INSERT, UPDATE ON user_invitations, user_tokens TO saas_app;
GRANT UPDATE (require_mfa) ON customers TO saas_app;
-- Onboarding (operator_transaction) invites the tenant's first owner; operators read the team.
GRANT SELECT (id, customer_id, email, name, role, mfa_enabled, created_at, last_login_at) ON users TO saas_operator;
GRANT SELECT, INSERT ON user_invitations TO saas_operator;
-- Reporting sees who is on a team, never a hash or a secret.
GRANT SELECT (id, customer_id, email, name, role, mfa_enabled, created_at, last_login_at) ON users TO saas_analytics;
GRANT SELECT (id, customer_id, email, role, created_at, expires_at, accepted_at) ON user_invitations TO saas_analytics;

-- Sessions of people: auth_sessions rows name the user (key_id stays null)
-- and the epoch their login read.
ALTER TABLE auth_sessions ADD COLUMN user_id uuid, ADD COLUMN user_epoch integer;

-- Login looks a person up by e-mail before the tenant is known: as for keys
-- (0010), a SECURITY DEFINER function owned by saas_auth, which may read
-- exactly the columns it returns.
GRANT SELECT (id, customer_id, email, role, password_hash, mfa_enabled, session_epoch) ON users TO saas_auth;
GRANT SELECT (require_mfa) ON customers TO saas_auth;
GRANT SELECT (role) ON api_keys TO saas_auth;
CREATE POLICY auth_user_lookup ON users FOR SELECT TO saas_auth USING (true);

CREATE FUNCTION auth_find_user(p_email text)
RETURNS TABLE (user_id uuid, customer_id uuid, role text, password_hash text, mfa_enabled boolean,
               session_epoch integer, customer_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id, u.customer_id, u.role, u.password_hash, u.mfa_enabled, u.session_epoch, c.status
      FROM users u JOIN customers c ON c.id = u.customer_id
     WHERE u.email = lower(p_email)
$$;

-- Live state of one credential - an API key, a person (p_user_id) or an
-- operator's key - and its holder at p_now, with the tenant role it acts with
-- and the tenant's require_mfa (helper of the two functions below).
CREATE FUNCTION auth_credential_state(p_role text, p_subject uuid, p_key_id uuid, p_user_id uuid, p_now timestamptz,
                                      OUT key_live boolean, OUT holder_active boolean, OUT tenant_role text,
                                      OUT require_mfa boolean, OUT user_epoch integer)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce(bool_or(x.live), false), coalesce(bool_or(x.active), false), max(x.tenant_role),
           coalesce(bool_or(x.require_mfa), false), max(x.epoch)
      FROM (SELECT (k.revoked_at IS NULL OR k.revoked_at > p_now)
                   AND (k.expires_at IS NULL OR k.expires_at > p_now) AS live,
                   c.status = 'active' AS active, k.role AS tenant_role, c.require_mfa, NULL::integer AS epoch
              FROM api_keys k JOIN customers c ON c.id = k.customer_id
             WHERE p_role = 'customer' AND p_user_id IS NULL AND k.id = p_key_id AND k.customer_id = p_subject
            UNION ALL
            SELECT true, c.status = 'active', u.role, c.require_mfa, u.session_epoch
              FROM users u JOIN customers c ON c.id = u.customer_id
             WHERE p_role = 'customer' AND p_key_id IS NULL AND u.id = p_user_id AND u.customer_id = p_subject
            UNION ALL
            SELECT (k.revoked_at IS NULL OR k.revoked_at > p_now)
                   AND (k.expires_at IS NULL OR k.expires_at > p_now),
                   o.disabled_at IS NULL, NULL, false, NULL
              FROM operator_api_keys k JOIN operators o ON o.id = k.operator_id
             WHERE p_role = 'operator' AND p_user_id IS NULL AND k.id = p_key_id
               AND k.operator_id = p_subject) AS x
$$;

-- The guard's one round trip, for every kind of session.
CREATE FUNCTION auth_request_state2(p_role text, p_subject uuid, p_key_id uuid, p_user_id uuid, p_jti text,
                                    p_now timestamptz,
                                    OUT session_live boolean, OUT key_live boolean, OUT holder_active boolean,
                                    OUT tenant_role text, OUT require_mfa boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM auth_sessions s
                    WHERE s.jti = p_jti AND s.revoked_at IS NULL AND s.expires_at > greatest(now(), p_now)
                      AND s.role = p_role AND s.subject = p_subject
                      AND s.key_id IS NOT DISTINCT FROM p_key_id AND s.user_id IS NOT DISTINCT FROM p_user_id
                      AND s.user_epoch IS NOT DISTINCT FROM st.user_epoch),
           st.key_live, st.holder_active, st.tenant_role, st.require_mfa
      FROM auth_credential_state(p_role, p_subject, p_key_id, p_user_id, greatest(now(), p_now)) AS st
$$;

-- Record a new session only while its credential is live, its holder active
-- and (a person) the epoch its login read is still the user's. Returns the
-- tenant role the session acts with (its token's tenant_role claim).
CREATE FUNCTION auth_open_session2(p_jti text, p_role text, p_subject uuid, p_key_id uuid, p_user_id uuid,
                                   p_user_epoch integer, p_expires_at timestamptz, p_now timestamptz,
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
        INSERT INTO auth_sessions (jti, role, subject, key_id, user_id, user_epoch, expires_at)
        VALUES (p_jti, p_role, p_subject, p_key_id, p_user_id, v_epoch, p_expires_at)
        ON CONFLICT (jti) DO NOTHING;  -- a tombstone (revoked first) stays revoked
    END IF;
END
$$;

-- The owner (saas_auth) revokes and grants (see 0031 for why it must be the owner).
ALTER FUNCTION auth_find_user(text) OWNER TO saas_auth;
ALTER FUNCTION auth_credential_state(text, uuid, uuid, uuid, timestamptz) OWNER TO saas_auth;
ALTER FUNCTION auth_request_state2(text, uuid, uuid, uuid, text, timestamptz) OWNER TO saas_auth;
ALTER FUNCTION auth_open_session2(text, text, uuid, uuid, uuid, integer, timestamptz, timestamptz) OWNER TO saas_auth;
SET LOCAL ROLE saas_auth;
REVOKE ALL ON FUNCTION auth_find_user(text),
                       auth_credential_state(text, uuid, uuid, uuid, timestamptz),
                       auth_request_state2(text, uuid, uuid, uuid, text, timestamptz),
                       auth_open_session2(text, text, uuid, uuid, uuid, integer, timestamptz, timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_find_user(text) TO saas_app;
GRANT EXECUTE ON FUNCTION auth_request_state2(text, uuid, uuid, uuid, text, timestamptz),
                          auth_open_session2(text, text, uuid, uuid, uuid, integer, timestamptz, timestamptz)
    TO saas_app, saas_operator;
SET LOCAL ROLE saas_admin;
