-- Issue 11, item 8: invoice numbers per customer, gap-free per customer and year.
--
-- One platform-wide counter per year let any customer read the platform's
-- invoice volume off its own invoice numbers. Numbers keep their shape,
-- INV-<year>-NNNNNN, but count one customer's invoices of that year; they are
-- unique per customer (two customers both have INV-2027-000001). Existing
-- numbers stay as they are: each customer's counter starts after the highest
-- number it already holds for that year, so nothing can collide.

CREATE TABLE invoice_number_counters_by_customer (
    customer_id  uuid NOT NULL REFERENCES customers (id),
    year         integer NOT NULL,
    last_value   integer NOT NULL CHECK (last_value > 0),
    PRIMARY KEY (customer_id, year)
);

-- invoices has FORCE ROW LEVEL SECURITY and its owner (saas_admin, running
-- this file) has no policy: lift the force for this transaction only (the
-- ALTER holds an exclusive lock on invoices until commit, so nobody else ever
-- sees it lifted) to read every customer's existing numbers.
ALTER TABLE invoices NO FORCE ROW LEVEL SECURITY;
INSERT INTO invoice_number_counters_by_customer (customer_id, year, last_value)
SELECT customer_id, split_part(number, '-', 2)::integer, max(split_part(number, '-', 3)::integer)
  FROM invoices
 WHERE number ~ '^INV-[0-9]{4}-[0-9]{1,9}$'
 GROUP BY 1, 2;
ALTER TABLE invoices FORCE ROW LEVEL SECURITY;

ALTER TABLE invoices DROP CONSTRAINT invoices_number_key;
ALTER TABLE invoices ADD CONSTRAINT invoices_customer_number_key UNIQUE (customer_id, number);

-- Tenant data like any other (a customer may read its own counter; only the billing run writes).
SELECT enable_tenant_rls('invoice_number_counters_by_customer');
GRANT SELECT ON invoice_number_counters_by_customer TO saas_app;
GRANT SELECT, INSERT, UPDATE ON invoice_number_counters_by_customer TO saas_operator;
GRANT SELECT ON invoice_number_counters_by_customer TO saas_analytics;
-- The platform-wide counters are no longer written; kept for the record of past numbering.
REVOKE INSERT, UPDATE ON invoice_number_counters FROM saas_operator;
