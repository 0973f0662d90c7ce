-- DPA 2018 Part 3 s.62: every consultation of footage or its details, with its justification.
-- A person justifies looking at one item once (a reason code from the configured list, or a case
-- URN, and optional free text); each kind of use under that justification (details, playback,
-- download) is then logged once, however many range requests a player makes. The free text stays
-- here, where it can be corrected or erased under the Act; the audit log holds its SHA-256.

CREATE TABLE consultations (
    id          BLOB PRIMARY KEY,
    item_kind   TEXT NOT NULL CHECK (item_kind IN ('recording', 'package')),
    item_id     BLOB NOT NULL,
    -- How the audit log names who consulted: `person:<uuid>`, or the local operator's name.
    actor       TEXT NOT NULL,
    person_id   BLOB REFERENCES people(id),
    reason      TEXT NOT NULL,
    case_urn    TEXT,
    detail      TEXT,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX consultations_item ON consultations (item_id, created_at);
CREATE INDEX consultations_actor ON consultations (actor, created_at);

CREATE TABLE consultation_uses (
    consultation_id BLOB NOT NULL REFERENCES consultations(id),
    what            TEXT NOT NULL,
    at              TEXT NOT NULL,
    PRIMARY KEY (consultation_id, what)
);
