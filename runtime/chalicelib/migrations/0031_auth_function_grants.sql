-- Issue 11, items 2 and 10: database grants that mean what they say.
--
-- 0010 and 0011 changed the owner of the SECURITY DEFINER auth functions to
-- saas_auth *before* their REVOKE ... FROM PUBLIC / GRANT ... TO saas_app.
-- Once saas_auth owned them, saas_admin (a member without INHERIT) held no
-- right on them, so PostgreSQL only warned "no privileges could be revoked"
-- and every role kept EXECUTE through PUBLIC: any login, the read-only
-- analytics role included, could revoke sessions, read key hashes and open a
-- session row for a token it signed itself. Applied migrations are
-- checksummed, so the fix is this file: act as the owner (the migration
-- runner's session user may SET ROLE to saas_auth through saas_admin), then
-- revoke and grant.
SET LOCAL ROLE saas_auth;

REVOKE ALL ON FUNCTION auth_find_customer_key(text),
                       auth_find_operator_key(text),
                       auth_key_state(text, uuid, uuid, timestamptz),
                       auth_request_state(text, uuid, uuid, text, timestamptz),
                       auth_open_session(text, text, uuid, uuid, timestamptz, timestamptz),
                       auth_revoke_sessions(text[], timestamptz),
                       auth_purge_sessions(integer) FROM PUBLIC;
-- Looking a key up happens before the tenant (or operator) is known: the app role only.
GRANT EXECUTE ON FUNCTION auth_find_customer_key(text), auth_find_operator_key(text) TO saas_app;
-- auth_key_state is a helper of the two below (they run as saas_auth): no grant.
-- saas_operator too: operator authentication records its session inside operator_transaction.
GRANT EXECUTE ON FUNCTION auth_request_state(text, uuid, uuid, text, timestamptz),
                          auth_open_session(text, text, uuid, uuid, timestamptz, timestamptz),
                          auth_revoke_sessions(text[], timestamptz),
                          auth_purge_sessions(integer) TO saas_app, saas_operator;

SET LOCAL ROLE saas_admin;

-- Item 10: reporting needs to see keys, never their hashes. A table-wide
-- SELECT covers every column, so it is replaced by a column list.
REVOKE SELECT ON api_keys, operator_api_keys FROM saas_analytics;
GRANT SELECT (id, customer_id, name, prefix, public_id, created_at, expires_at, revoked_at, last_used_at,
              rotated_from) ON api_keys TO saas_analytics;
GRANT SELECT (id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at)
    ON operator_api_keys TO saas_analytics;
