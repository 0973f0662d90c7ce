-- bwv catalogue, SQLite flavour. Version numbers match migrations/postgres (a test checks).
-- Times are RFC 3339 text (sqlx chrono encoding); ids are UUIDs stored as 16-byte blobs.

CREATE TABLE officers (
    id           TEXT PRIMARY KEY,            -- staff number: pseudonymous, never a name
    display_name TEXT,
    created_at   TEXT NOT NULL
);

CREATE TABLE devices (
    serial     TEXT PRIMARY KEY,
    model      TEXT,
    officer_id TEXT REFERENCES officers(id),  -- current holder, if issued personally
    created_at TEXT NOT NULL
);

CREATE TABLE docks (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,                -- salted slow hash; the secret is shown once
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- Every stored blob, original or derivative, by content address.
CREATE TABLE objects (
    sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size       INTEGER NOT NULL CHECK (size >= 0),
    media_type TEXT,
    stored_at  TEXT NOT NULL,
    purged_at  TEXT                            -- bytes removed by retention; the row is the tombstone
);

CREATE TABLE recordings (
    id              BLOB PRIMARY KEY,
    officer_id      TEXT NOT NULL REFERENCES officers(id),
    device_serial   TEXT NOT NULL REFERENCES devices(serial),
    dock_id         BLOB REFERENCES docks(id),
    source          TEXT NOT NULL CHECK (source IN ('cli', 'watch', 'axis', 'tus')),
    external_ref    TEXT,                      -- the camera's or dock's own id for the recording
    recorded_at     TEXT NOT NULL,
    recorded_at_source TEXT NOT NULL,          -- 'operator', 'file-mtime', 'camera', 'container'
    ended_at        TEXT,
    category        TEXT,                      -- as chosen on the camera / at upload
    classification  TEXT NOT NULL DEFAULT 'unreviewed'
                    CHECK (classification IN ('unreviewed', 'evidential', 'non-evidential')),
    status          TEXT NOT NULL CHECK (status IN ('incomplete', 'stored', 'playable', 'unplayable')),
    flags           TEXT NOT NULL DEFAULT '[]', -- JSON array: 'zero-length', 'rejected-content', ...
    metadata        TEXT NOT NULL DEFAULT '{}', -- JSON: everything the door told us, kept verbatim
    retention_state TEXT NOT NULL DEFAULT 'active'
                    CHECK (retention_state IN ('active', 'review', 'soft-deleted', 'purged')),
    next_action     TEXT,                      -- 'delete', 'review', ...
    next_action_at  TEXT,
    deleted_at      TEXT,
    purged_at       TEXT,
    created_at      TEXT NOT NULL,
    UNIQUE (source, external_ref)
);
CREATE INDEX recordings_next_action_at ON recordings (next_action_at) WHERE next_action_at IS NOT NULL;
CREATE INDEX recordings_recorded_at ON recordings (recorded_at);
CREATE INDEX recordings_officer ON recordings (officer_id);

-- A recording is one or more clips: cameras split long recordings into segments.
CREATE TABLE clips (
    id            BLOB PRIMARY KEY,
    recording_id  BLOB NOT NULL REFERENCES recordings(id),
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    sha256        TEXT NOT NULL REFERENCES objects(sha256),
    size          INTEGER NOT NULL,
    original_name TEXT,
    started_at    TEXT,
    probe         TEXT,                        -- JSON from the media probe
    created_at    TEXT NOT NULL,
    UNIQUE (recording_id, seq)
);
CREATE INDEX clips_sha256 ON clips (sha256);

-- Every arrival of bytes, including identical bytes arriving again.
CREATE TABLE sightings (
    id            BLOB PRIMARY KEY,
    sha256        TEXT NOT NULL REFERENCES objects(sha256),
    recording_id  BLOB NOT NULL REFERENCES recordings(id),
    duplicate     BOOLEAN NOT NULL,
    source        TEXT NOT NULL,
    source_name   TEXT,
    officer_id    TEXT NOT NULL,
    device_serial TEXT NOT NULL,
    dock_id       BLOB REFERENCES docks(id),
    seen_at       TEXT NOT NULL
);
CREATE INDEX sightings_sha256 ON sightings (sha256);

CREATE TABLE bookmarks (
    id           BLOB PRIMARY KEY,
    recording_id BLOB NOT NULL REFERENCES recordings(id),
    marked_at    TEXT,
    offset_ms    INTEGER,
    category     TEXT,
    note         TEXT,
    raw          TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE gnss_tracks (
    recording_id BLOB PRIMARY KEY REFERENCES recordings(id),
    sha256       TEXT NOT NULL REFERENCES objects(sha256),
    points       INTEGER NOT NULL
);

CREATE TABLE derivatives (
    id            BLOB PRIMARY KEY,
    clip_id       BLOB REFERENCES clips(id),
    source_sha256 TEXT NOT NULL REFERENCES objects(sha256),
    sha256        TEXT NOT NULL REFERENCES objects(sha256),
    kind          TEXT NOT NULL,               -- 'disclosure', 'poster', 'thumbstrip', 'excerpt'
    media_type    TEXT NOT NULL,
    params        TEXT NOT NULL DEFAULT '{}',  -- tool, versions, parameters
    created_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX derivatives_clip_kind ON derivatives (clip_id, kind) WHERE kind <> 'excerpt';
CREATE INDEX derivatives_source ON derivatives (source_sha256);

CREATE TABLE jobs (
    id               BLOB PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    priority         INTEGER NOT NULL DEFAULT 0,
    run_at           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    last_error       TEXT,
    last_error_code  TEXT,
    unique_key       TEXT UNIQUE,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX jobs_claim ON jobs (status, priority, run_at);

CREATE TABLE cases (
    id               BLOB PRIMARY KEY,
    urn              TEXT NOT NULL UNIQUE,
    offence          TEXT NOT NULL,
    oic              TEXT NOT NULL REFERENCES officers(id),
    status           TEXT NOT NULL CHECK (status IN ('open', 'charged', 'nfa', 'acquitted', 'convicted', 'closed')),
    sentence_release TEXT,
    appeal           BOOLEAN NOT NULL DEFAULT FALSE,
    opened_at        TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

CREATE TABLE exhibits (
    id           BLOB PRIMARY KEY,
    case_id      BLOB NOT NULL REFERENCES cases(id),
    recording_id BLOB NOT NULL REFERENCES recordings(id),
    reference    TEXT NOT NULL,                -- AB/1
    item_number  INTEGER NOT NULL,             -- stable across successive disclosure schedules
    created_at   TEXT NOT NULL,
    UNIQUE (case_id, reference),
    UNIQUE (case_id, recording_id),
    UNIQUE (case_id, item_number)
);
CREATE INDEX exhibits_recording ON exhibits (recording_id);

-- History of classification decisions; recordings.classification is the current one.
CREATE TABLE classifications (
    id             BLOB PRIMARY KEY,
    recording_id   BLOB NOT NULL REFERENCES recordings(id),
    classification TEXT NOT NULL,
    basis          TEXT NOT NULL,              -- 'camera-category', 'review'
    reason         TEXT,
    actor          TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX classifications_recording ON classifications (recording_id);

CREATE TABLE holds (
    id             BLOB PRIMARY KEY,
    recording_id   BLOB REFERENCES recordings(id),
    case_id        BLOB REFERENCES cases(id),
    reason         TEXT NOT NULL,
    until          TEXT,
    placed_by      TEXT NOT NULL,
    placed_at      TEXT NOT NULL,
    released_by    TEXT,
    released_at    TEXT,
    release_reason TEXT,
    CHECK ((recording_id IS NULL) <> (case_id IS NULL))
);
CREATE INDEX holds_recording ON holds (recording_id) WHERE released_at IS NULL;
CREATE INDEX holds_case ON holds (case_id) WHERE released_at IS NULL;

CREATE TABLE retention_plans (
    id            BLOB PRIMARY KEY,
    as_of         TEXT NOT NULL,
    policy_sha256 TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    approved_by   TEXT,
    approved_at   TEXT,
    executed_at   TEXT
);

CREATE TABLE retention_plan_items (
    plan_id      BLOB NOT NULL REFERENCES retention_plans(id),
    recording_id BLOB NOT NULL REFERENCES recordings(id),
    action       TEXT NOT NULL,
    rule         TEXT NOT NULL,
    due_at       TEXT NOT NULL,
    done_at      TEXT,
    PRIMARY KEY (plan_id, recording_id)
);

-- What is left of a purged recording: enough to prove what was destroyed, when and why.
CREATE TABLE tombstones (
    recording_id BLOB PRIMARY KEY REFERENCES recordings(id),
    rule         TEXT NOT NULL,
    objects      TEXT NOT NULL,                -- JSON [{sha256, size, role}]
    deleted_at   TEXT NOT NULL,
    purged_at    TEXT NOT NULL,
    certificate  TEXT NOT NULL
);

-- Audit log (reference/audit-anchors.md §5.3): an RFC 6962 tree in the Go "stored hash" layout.
CREATE TABLE tlog_state (
    log_id INTEGER PRIMARY KEY CHECK (log_id = 1),
    origin TEXT NOT NULL,
    size   INTEGER NOT NULL,
    root   BLOB NOT NULL
);

CREATE TABLE tlog_leaf (
    idx       INTEGER PRIMARY KEY,
    leaf      BLOB NOT NULL,
    leaf_hash BLOB NOT NULL,
    item_id   BLOB NOT NULL,
    item_seq  INTEGER NOT NULL,
    event     TEXT NOT NULL,
    ts        TEXT NOT NULL,
    UNIQUE (item_id, item_seq)
);

CREATE TABLE tlog_hash (
    sidx INTEGER PRIMARY KEY,
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE tlog_checkpoint (
    size       INTEGER PRIMARY KEY,
    root       BLOB NOT NULL,
    note       BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Per-item chain head: each item's records link back by hash (item.seq, item.prev).
CREATE TABLE audit_items (
    item_id     BLOB PRIMARY KEY,
    kind        TEXT NOT NULL,
    event_count INTEGER NOT NULL,
    last_index  INTEGER NOT NULL,
    last_hash   BLOB NOT NULL
);

-- The log tables are insert-only. These triggers stop accidents and casual edits; a determined
-- administrator can drop them, which is why `bwv audit verify` recomputes everything.
CREATE TRIGGER tlog_leaf_no_update BEFORE UPDATE ON tlog_leaf
BEGIN SELECT RAISE(ABORT, 'tlog_leaf is append-only'); END;
CREATE TRIGGER tlog_leaf_no_delete BEFORE DELETE ON tlog_leaf
BEGIN SELECT RAISE(ABORT, 'tlog_leaf is append-only'); END;
CREATE TRIGGER tlog_hash_no_update BEFORE UPDATE ON tlog_hash
BEGIN SELECT RAISE(ABORT, 'tlog_hash is append-only'); END;
CREATE TRIGGER tlog_hash_no_delete BEFORE DELETE ON tlog_hash
BEGIN SELECT RAISE(ABORT, 'tlog_hash is append-only'); END;
CREATE TRIGGER tlog_checkpoint_no_update BEFORE UPDATE ON tlog_checkpoint
BEGIN SELECT RAISE(ABORT, 'tlog_checkpoint is append-only'); END;
CREATE TRIGGER tlog_checkpoint_no_delete BEFORE DELETE ON tlog_checkpoint
BEGIN SELECT RAISE(ABORT, 'tlog_checkpoint is append-only'); END;
