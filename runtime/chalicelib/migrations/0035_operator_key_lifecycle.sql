-- Issue 11, item 11: operator keys are listed, created and revoked through
-- the API (/admin/operator-keys), in operator_transaction as saas_operator.
--
-- That role had SELECT, INSERT and UPDATE on every column of
-- operator_api_keys. It never needs a key's hash back (authentication reads
-- it through auth_find_operator_key, as saas_app), and it must not re-key a
-- key or lengthen its life: it lists every column but the hash, inserts new
-- keys, and updates only revoked_at (revocation) and last_used_at (stamped
-- at authentication). saas_admin owns the table, so its grants take effect.
REVOKE SELECT, INSERT, UPDATE ON operator_api_keys FROM saas_operator;
GRANT SELECT (id, operator_id, name, public_id, created_at, expires_at, revoked_at, last_used_at)
    ON operator_api_keys TO saas_operator;
GRANT INSERT (operator_id, name, public_id, secret_hash, expires_at) ON operator_api_keys TO saas_operator;
GRANT UPDATE (revoked_at, last_used_at) ON operator_api_keys TO saas_operator;

-- GET /admin/operator-keys pages newest first on (created_at, id), like /api-keys.
CREATE INDEX operator_api_keys_created_idx ON operator_api_keys (created_at DESC, id DESC);
