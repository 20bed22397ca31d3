-- Issue 11, item 15: a billing run whose process died is recorded as such.
--
-- A run killed between its chunks (a Lambda timeout, an out-of-memory kill,
-- a lost host) never reached its own 'succeeded' or 'failed' update, so its
-- row said 'running' forever. Each run now holds an advisory lock on its own
-- id for as long as its process lives (see chalicelib.billing.service); the
-- next run of the period that finds a 'running' row whose lock is free marks
-- it 'abandoned', with finished_at and, in error, which run found it.
ALTER TABLE billing_runs DROP CONSTRAINT billing_runs_status_check;
ALTER TABLE billing_runs ADD CONSTRAINT billing_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'abandoned'));
