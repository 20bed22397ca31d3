-- A customer's usage per metric and month is bounded (issue 11, item 1), so
-- the largest invoice the catalog can produce fits invoices' numeric(14, 2):
-- 10^10 units at the catalog's highest unit price ($1.50) is $1.5 * 10^10 per
-- metric, far below $10^12 even with tax. The per-event bound (10^9) is the
-- service's; this one is checked where the running total is kept, under the
-- row lock of the ingesting statement, so concurrent batches cannot slip past it.
--
-- NOT VALID: rows written before the bound are kept as they are (the billing
-- run sets aside a customer it cannot price rather than failing); every new
-- or updated row is checked.
ALTER TABLE usage_monthly
    ADD CONSTRAINT usage_monthly_quantity_bound CHECK (quantity <= 10000000000) NOT VALID;
