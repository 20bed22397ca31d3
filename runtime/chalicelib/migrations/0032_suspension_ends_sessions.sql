-- Issue 11, item 7: suspending a customer ends its sessions; reactivating it
-- does not bring them back - the customer authenticates again.
--
-- sessions_valid_from: refresh tokens issued before it are refused (checked
-- by the refresh path, which reads the customer's own row). Set, and every
-- recorded session (access token) revoked, by a trigger on the suspension
-- itself, so a suspension typed straight into the database counts as well.
ALTER TABLE customers ADD COLUMN sessions_valid_from timestamptz;

-- SECURITY DEFINER, owned by saas_auth (the only role that may write
-- auth_sessions): the suspending role (saas_operator) has no right on it.
CREATE FUNCTION customers_suspension_ends_sessions() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    NEW.sessions_valid_from := now();
    UPDATE auth_sessions SET revoked_at = now()
     WHERE role = 'customer' AND subject = NEW.id AND revoked_at IS NULL;
    RETURN NEW;
END
$$;
-- CREATE TRIGGER needs EXECUTE on the function (firing it does not): created
-- first, then the function is revoked from PUBLIC while saas_admin still owns
-- it (see 0031: after the owner change it could not) and handed to saas_auth.
CREATE TRIGGER customers_suspension_ends_sessions BEFORE UPDATE OF status ON customers
    FOR EACH ROW WHEN (NEW.status = 'suspended' AND OLD.status IS DISTINCT FROM 'suspended')
    EXECUTE FUNCTION customers_suspension_ends_sessions();
REVOKE ALL ON FUNCTION customers_suspension_ends_sessions() FROM PUBLIC;
ALTER FUNCTION customers_suspension_ends_sessions() OWNER TO saas_auth;
