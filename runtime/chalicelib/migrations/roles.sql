-- Cluster roles, applied (idempotently) by the migration runner as the
-- database master user before any versioned migration. Versioned migrations
-- then run as saas_admin, which therefore owns every table.
--
--   saas_admin      owns the schema, runs migrations (NOLOGIN)
--   saas_app        the runtime: DML it needs, no ownership, no BYPASSRLS (NOLOGIN)
--   saas_operator   cross-tenant operator work; reached only by SET ROLE inside
--                   one transaction (operator_transaction), never inherited
--   saas_analytics  read-only reporting (NOLOGIN)
--   saas_app_user   the login the runtime and the tests use
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_admin') THEN
        CREATE ROLE saas_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_app') THEN
        CREATE ROLE saas_app NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_operator') THEN
        CREATE ROLE saas_operator NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_analytics') THEN
        CREATE ROLE saas_analytics NOLOGIN NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_app_user') THEN
        CREATE ROLE saas_app_user LOGIN NOBYPASSRLS;
    END IF;
END
$$;

GRANT saas_admin TO CURRENT_USER;
GRANT saas_app TO saas_app_user;
-- Membership without inheritance: the login gets operator rights only after
-- an explicit, transaction-local SET ROLE.
GRANT saas_operator TO saas_app_user WITH INHERIT FALSE, SET TRUE;
GRANT USAGE, CREATE ON SCHEMA public TO saas_admin;
GRANT USAGE ON SCHEMA public TO saas_app, saas_operator, saas_analytics;

-- saas_auth: owns the SECURITY DEFINER functions that look an API key up by
-- its public id before the tenant is known (migration 0010). NOLOGIN, never
-- inherited: saas_admin may only SET ROLE to it (needed to hand it the
-- functions), so its read-everything key-lookup policies do not widen what
-- the schema owner sees under FORCE RLS.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_auth') THEN
        CREATE ROLE saas_auth NOLOGIN NOBYPASSRLS;
    END IF;
END
$$;
GRANT saas_auth TO saas_admin WITH INHERIT FALSE, SET TRUE;
-- ALTER FUNCTION ... OWNER TO saas_auth requires CREATE on the schema.
GRANT USAGE, CREATE ON SCHEMA public TO saas_auth;

-- saas_audit_purge: owns purge_expired_audit_events() (migration 0034), the
-- only way audit rows are ever deleted, and the refuse-change trigger lets a
-- DELETE through only when it runs as this role. NOLOGIN, never inherited:
-- saas_admin may only SET ROLE to it (to hand it the function and grant its
-- EXECUTE as the owner).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'saas_audit_purge') THEN
        CREATE ROLE saas_audit_purge NOLOGIN NOBYPASSRLS;
    END IF;
END
$$;
GRANT saas_audit_purge TO saas_admin WITH INHERIT FALSE, SET TRUE;
-- USAGE to reach audit_events from its function; CREATE because ALTER ... OWNER TO requires it.
GRANT USAGE, CREATE ON SCHEMA public TO saas_audit_purge;
