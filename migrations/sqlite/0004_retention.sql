-- Retention: when a case reached its outcome (the clock for CPIA periods), and which rule set a
-- recording's next action.
ALTER TABLE cases ADD COLUMN concluded_at TEXT;
ALTER TABLE recordings ADD COLUMN next_action_rule TEXT;
