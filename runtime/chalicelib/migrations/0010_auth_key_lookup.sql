-- Looking an API key up by its public id before the tenant is known.
--
-- api_keys and customers have FORCE ROW LEVEL SECURITY: with no tenant set the
-- app role sees no rows, and neither does the owner. Authentication has to
-- read exactly one row by public id to learn the tenant. Rather than borrow
-- the operator role (which sees and writes every tenant's everything) for an
-- unauthenticated code path, a dedicated role, saas_auth, owns two SECURITY
-- DEFINER functions and has SELECT-only policies on the two tables. The app
-- role can call the functions but cannot read the tables through them any
-- wider than "this one public id". Everything after the lookup runs in
-- tenant_transaction(customer_id) as usual.

GRANT SELECT (id, customer_id, public_id, secret_hash, expires_at, revoked_at) ON api_keys TO saas_auth;
GRANT SELECT (id, status) ON customers TO saas_auth;
GRANT SELECT (id, operator_id, public_id, secret_hash, expires_at, revoked_at) ON operator_api_keys TO saas_auth;
GRANT SELECT (id, disabled_at) ON operators TO saas_auth;

CREATE POLICY auth_key_lookup ON api_keys FOR SELECT TO saas_auth USING (true);
CREATE POLICY auth_key_lookup ON customers FOR SELECT TO saas_auth USING (true);

CREATE FUNCTION auth_find_customer_key(p_public_id text)
RETURNS TABLE (key_id uuid, customer_id uuid, secret_hash text, expires_at timestamptz,
               revoked_at timestamptz, customer_status text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.id, k.customer_id, k.secret_hash, k.expires_at, k.revoked_at, c.status
      FROM api_keys k JOIN customers c ON c.id = k.customer_id
     WHERE k.public_id = p_public_id
$$;

CREATE FUNCTION auth_find_operator_key(p_public_id text)
RETURNS TABLE (key_id uuid, operator_id uuid, secret_hash text, expires_at timestamptz,
               revoked_at timestamptz, operator_disabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.id, k.operator_id, k.secret_hash, k.expires_at, k.revoked_at, o.disabled_at IS NOT NULL
      FROM operator_api_keys k JOIN operators o ON o.id = k.operator_id
     WHERE k.public_id = p_public_id
$$;

ALTER FUNCTION auth_find_customer_key(text) OWNER TO saas_auth;
ALTER FUNCTION auth_find_operator_key(text) OWNER TO saas_auth;
REVOKE EXECUTE ON FUNCTION auth_find_customer_key(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION auth_find_operator_key(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_find_customer_key(text), auth_find_operator_key(text) TO saas_app;

-- Listing a tenant's keys newest first is already served by api_keys_customer_idx.
