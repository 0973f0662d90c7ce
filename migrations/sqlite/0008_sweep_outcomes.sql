-- A plan item's outcome is one of the sweep's outcomes (SweepOutcome), its why beside it: the
-- column used to hold "skipped: <why>" as one string.
ALTER TABLE retention_plan_items ADD COLUMN outcome_detail TEXT;
UPDATE retention_plan_items SET outcome_detail = substr(outcome, 10), outcome = 'skipped'
    WHERE outcome LIKE 'skipped: %';
