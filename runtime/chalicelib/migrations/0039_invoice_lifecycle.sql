-- Issue 14: an invoice's life after finalization, and the columns payments need.
--
--   draft -> finalized -> paid | void | uncollectible,   uncollectible -> paid | void
--
-- 'uncollectible' is a finalized invoice that collection gave up on (dunning
-- ran out); it may still be paid late or voided. 'paid' and 'void' are
-- terminal. The freeze trigger of migration 0020 is extended, not bypassed:
-- while an invoice is finalized or uncollectible its amounts, lines and dates
-- stay exactly as they were; only the payment columns below and the status
-- (along the arrows above) may change.
ALTER TABLE invoices DROP CONSTRAINT invoices_status_check;
ALTER TABLE invoices ADD CONSTRAINT invoices_status_check
    CHECK (status IN ('draft', 'finalized', 'paid', 'void', 'uncollectible'));

ALTER TABLE invoices
    -- What was received, in the invoice's currency (the total, when paid in full).
    ADD COLUMN amount_paid numeric(14, 2) NOT NULL DEFAULT 0 CONSTRAINT invoices_amount_paid_check
        CHECK (amount_paid >= 0),
    ADD COLUMN paid_at timestamptz,
    -- The payment processor's view of the last charge; NULL while none was attempted.
    ADD COLUMN payment_status text CONSTRAINT invoices_payment_status_check
        CHECK (payment_status IN ('pending', 'succeeded', 'failed')),
    ADD COLUMN next_payment_attempt_at timestamptz,
    ADD COLUMN payment_attempts integer NOT NULL DEFAULT 0 CONSTRAINT invoices_payment_attempts_check
        CHECK (payment_attempts >= 0),
    ADD COLUMN voided_at timestamptz,
    ADD COLUMN void_reason text,
    -- The payment's own identifier: a processor's charge, or an operator's note of a transfer.
    ADD COLUMN payment_reference text;

-- Dunning looks for invoices whose next attempt is due.
CREATE INDEX invoices_next_payment_attempt_idx ON invoices (next_payment_attempt_at)
    WHERE next_payment_attempt_at IS NOT NULL;

-- A draft changes freely but may only become finalized. A finalized or
-- uncollectible invoice keeps every amount and date; its payment columns may
-- change, and its status may move only along the arrows above. Paid and void
-- invoices never change again. Nothing but a draft is ever deleted. This
-- holds for every role, the owner and the superuser included.
CREATE OR REPLACE FUNCTION invoices_refuse_frozen_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'draft' THEN
            RETURN OLD;
        END IF;
    ELSIF OLD.status = 'draft' THEN
        IF NEW.status IN ('draft', 'finalized') THEN
            RETURN NEW;
        END IF;
    ELSIF OLD.status IN ('finalized', 'uncollectible')
       AND (NEW.status = OLD.status
            OR (OLD.status = 'finalized' AND NEW.status IN ('paid', 'void', 'uncollectible'))
            OR (OLD.status = 'uncollectible' AND NEW.status IN ('paid', 'void')))
       AND (NEW.id, NEW.customer_id, NEW.number, NEW.period, NEW.currency, NEW.tier_code, NEW.tax_rate,
            NEW.subtotal, NEW.discount, NEW.tax, NEW.total, NEW.billing_run_id, NEW.created_at,
            NEW.finalized_at, NEW.due_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.customer_id, OLD.number, OLD.period, OLD.currency, OLD.tier_code, OLD.tax_rate,
            OLD.subtotal, OLD.discount, OLD.tax, OLD.total, OLD.billing_run_id, OLD.created_at,
            OLD.finalized_at, OLD.due_at) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'invoice % cannot go from % to %', OLD.number, OLD.status, NEW.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RAISE EXCEPTION 'invoice % is % and cannot change (% refused)', OLD.number, OLD.status, TG_OP
        USING ERRCODE = 'object_not_in_prerequisite_state';
END
$$;
