-- Retention: when a case first reached an outcome (the clock for CPIA periods), and which rule
-- and policy set a recording's next action.
ALTER TABLE cases ADD COLUMN concluded_at TEXT;
ALTER TABLE recordings ADD COLUMN next_action_rule TEXT;
-- The SHA-256 of the policy that computed it: a changed policy finds the answers to redo.
ALTER TABLE recordings ADD COLUMN next_action_policy TEXT;
