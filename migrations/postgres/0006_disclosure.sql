-- Disclosure: which schedule each piece of case material belongs on. Exhibits are used
-- material (produced in statements, packaged with media); unused material goes on the MG6C,
-- sensitive material on the MG6D, which never leaves with the defence-facing package.
-- Each schedule numbers its own items, so a gap in one never hints at items on another, and a
-- number once given is never given again: successive packages for a case keep them.
ALTER TABLE exhibits ADD COLUMN schedule TEXT NOT NULL DEFAULT 'exhibit'
    CHECK (schedule IN ('exhibit', 'unused', 'sensitive'));
ALTER TABLE exhibits ADD COLUMN schedule_item BIGINT;
ALTER TABLE exhibits ADD COLUMN description TEXT;         -- the schedule's Description
ALTER TABLE exhibits ADD COLUMN sensitivity TEXT;         -- MG6D: reason for sensitivity
ALTER TABLE exhibits ADD COLUMN disclosure_note TEXT;     -- MG6E: why it may undermine or assist
UPDATE exhibits SET schedule_item = item_number;
CREATE UNIQUE INDEX exhibits_schedule_item ON exhibits (case_id, schedule, schedule_item);
