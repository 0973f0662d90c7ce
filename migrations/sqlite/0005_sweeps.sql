-- Sweeps: what each plan item came to, when a purge began (so a killed purge is finished, not
-- redone from scratch), and the records-management reviews that decide what happens after
-- a review falls due.
ALTER TABLE retention_plan_items ADD COLUMN outcome TEXT;
ALTER TABLE recordings ADD COLUMN purge_started_at TEXT;
-- Finding answers made under another policy without reading every recording.
CREATE INDEX recordings_next_action_policy ON recordings (next_action_policy);
CREATE INDEX recordings_soft_deleted ON recordings (deleted_at) WHERE retention_state = 'soft-deleted';

CREATE TABLE retention_reviews (
    id           BLOB PRIMARY KEY,
    recording_id BLOB NOT NULL REFERENCES recordings(id),
    decision     TEXT NOT NULL CHECK (decision IN ('retain', 'dispose')),
    retain_until TEXT,
    review_group TEXT,                         -- MoPI-style group named in the policy
    reason       TEXT NOT NULL,
    reviewer     TEXT NOT NULL,
    decided_at   TEXT NOT NULL,
    CHECK ((decision = 'retain') = (retain_until IS NOT NULL))
);
CREATE INDEX retention_reviews_recording ON retention_reviews (recording_id, decided_at);
