-- bwv catalogue, PostgreSQL flavour. Version numbers match migrations/sqlite (a test checks).

CREATE TABLE officers (
    id           TEXT PRIMARY KEY,            -- staff number: pseudonymous, never a name
    display_name TEXT,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE devices (
    serial     TEXT PRIMARY KEY,
    model      TEXT,
    officer_id TEXT REFERENCES officers(id),  -- current holder, if issued personally
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE docks (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,                -- salted slow hash; the secret is shown once
    created_at  TIMESTAMPTZ NOT NULL,
    revoked_at  TIMESTAMPTZ
);

-- Every stored blob, original or derivative, by content address.
CREATE TABLE objects (
    sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size       BIGINT NOT NULL CHECK (size >= 0),
    media_type TEXT,
    stored_at  TIMESTAMPTZ NOT NULL,
    purged_at  TIMESTAMPTZ                            -- bytes removed by retention; the row is the tombstone
);

CREATE TABLE recordings (
    id              UUID PRIMARY KEY,
    officer_id      TEXT NOT NULL REFERENCES officers(id),
    device_serial   TEXT NOT NULL REFERENCES devices(serial),
    dock_id         UUID REFERENCES docks(id),
    source          TEXT NOT NULL CHECK (source IN ('cli', 'watch', 'axis', 'tus')),
    external_ref    TEXT,                      -- the camera's or dock's own id for the recording
    recorded_at     TIMESTAMPTZ NOT NULL,
    recorded_at_source TEXT NOT NULL,          -- 'operator', 'file-mtime', 'camera', 'container'
    ended_at        TIMESTAMPTZ,
    category        TEXT,                      -- as chosen on the camera / at upload
    classification  TEXT NOT NULL DEFAULT 'unreviewed'
                    CHECK (classification IN ('unreviewed', 'evidential', 'non-evidential')),
    status          TEXT NOT NULL CHECK (status IN ('incomplete', 'stored', 'playable', 'unplayable')),
    flags           JSONB NOT NULL DEFAULT '[]', -- JSON array: 'zero-length', 'rejected-content', ...
    metadata        JSONB NOT NULL DEFAULT '{}', -- JSON: everything the door told us, kept verbatim
    retention_state TEXT NOT NULL DEFAULT 'active'
                    CHECK (retention_state IN ('active', 'review', 'soft-deleted', 'purged')),
    next_action     TEXT,                      -- 'delete', 'review', ...
    next_action_at  TIMESTAMPTZ,
    deleted_at      TIMESTAMPTZ,
    purged_at       TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (source, external_ref)
);
CREATE INDEX recordings_next_action_at ON recordings (next_action_at) WHERE next_action_at IS NOT NULL;
CREATE INDEX recordings_recorded_at ON recordings (recorded_at);
CREATE INDEX recordings_officer ON recordings (officer_id);

-- A recording is one or more clips: cameras split long recordings into segments.
CREATE TABLE clips (
    id            UUID PRIMARY KEY,
    recording_id  UUID NOT NULL REFERENCES recordings(id),
    seq           BIGINT NOT NULL CHECK (seq >= 1),
    sha256        TEXT NOT NULL REFERENCES objects(sha256),
    size          BIGINT NOT NULL,
    original_name TEXT,
    started_at    TIMESTAMPTZ,
    probe         JSONB,                        -- JSON from the media probe
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (recording_id, seq)
);
CREATE INDEX clips_sha256 ON clips (sha256);

-- Every arrival of bytes, including identical bytes arriving again.
CREATE TABLE sightings (
    id            UUID PRIMARY KEY,
    sha256        TEXT NOT NULL REFERENCES objects(sha256),
    recording_id  UUID NOT NULL REFERENCES recordings(id),
    duplicate     BOOLEAN NOT NULL,
    source        TEXT NOT NULL,
    source_name   TEXT,
    officer_id    TEXT NOT NULL,
    device_serial TEXT NOT NULL,
    dock_id       UUID REFERENCES docks(id),
    seen_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX sightings_sha256 ON sightings (sha256);

CREATE TABLE bookmarks (
    id           UUID PRIMARY KEY,
    recording_id UUID NOT NULL REFERENCES recordings(id),
    marked_at    TIMESTAMPTZ,
    offset_ms    BIGINT,
    category     TEXT,
    note         TEXT,
    raw          JSONB NOT NULL DEFAULT '{}'
);

CREATE TABLE gnss_tracks (
    recording_id UUID PRIMARY KEY REFERENCES recordings(id),
    sha256       TEXT NOT NULL REFERENCES objects(sha256),
    points       BIGINT NOT NULL
);

CREATE TABLE derivatives (
    id            UUID PRIMARY KEY,
    clip_id       UUID REFERENCES clips(id),
    source_sha256 TEXT NOT NULL REFERENCES objects(sha256),
    sha256        TEXT NOT NULL REFERENCES objects(sha256),
    kind          TEXT NOT NULL,               -- 'disclosure', 'poster', 'thumbstrip', 'excerpt'
    media_type    TEXT NOT NULL,
    params        JSONB NOT NULL DEFAULT '{}',  -- tool, versions, parameters
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX derivatives_clip_kind ON derivatives (clip_id, kind) WHERE kind <> 'excerpt';
CREATE INDEX derivatives_source ON derivatives (source_sha256);

CREATE TABLE jobs (
    id               UUID PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          JSONB NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'dead')),
    priority         BIGINT NOT NULL DEFAULT 0,
    run_at           TIMESTAMPTZ NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    last_error       TEXT,
    last_error_code  TEXT,
    unique_key       TEXT UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX jobs_claim ON jobs (status, priority, run_at);

CREATE TABLE cases (
    id               UUID PRIMARY KEY,
    urn              TEXT NOT NULL UNIQUE,
    offence          TEXT NOT NULL,
    oic              TEXT NOT NULL REFERENCES officers(id),
    status           TEXT NOT NULL CHECK (status IN ('open', 'charged', 'nfa', 'acquitted', 'convicted', 'closed')),
    sentence_release TIMESTAMPTZ,
    appeal           BOOLEAN NOT NULL DEFAULT FALSE,
    opened_at        TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE exhibits (
    id           UUID PRIMARY KEY,
    case_id      UUID NOT NULL REFERENCES cases(id),
    recording_id UUID NOT NULL REFERENCES recordings(id),
    reference    TEXT NOT NULL,                -- AB/1
    item_number  BIGINT NOT NULL,             -- stable across successive disclosure schedules
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (case_id, reference),
    UNIQUE (case_id, recording_id),
    UNIQUE (case_id, item_number)
);
CREATE INDEX exhibits_recording ON exhibits (recording_id);

-- History of classification decisions; recordings.classification is the current one.
CREATE TABLE classifications (
    id             UUID PRIMARY KEY,
    recording_id   UUID NOT NULL REFERENCES recordings(id),
    classification TEXT NOT NULL,
    basis          TEXT NOT NULL,              -- 'camera-category', 'review'
    reason         TEXT,
    actor          TEXT NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX classifications_recording ON classifications (recording_id);

CREATE TABLE holds (
    id             UUID PRIMARY KEY,
    recording_id   UUID REFERENCES recordings(id),
    case_id        UUID REFERENCES cases(id),
    reason         TEXT NOT NULL,
    until          TIMESTAMPTZ,
    placed_by      TEXT NOT NULL,
    placed_at      TIMESTAMPTZ NOT NULL,
    released_by    TEXT,
    released_at    TIMESTAMPTZ,
    release_reason TEXT,
    CHECK ((recording_id IS NULL) <> (case_id IS NULL))
);
CREATE INDEX holds_recording ON holds (recording_id) WHERE released_at IS NULL;
CREATE INDEX holds_case ON holds (case_id) WHERE released_at IS NULL;

CREATE TABLE retention_plans (
    id            UUID PRIMARY KEY,
    as_of         TIMESTAMPTZ NOT NULL,
    policy_sha256 TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    approved_by   TEXT,
    approved_at   TIMESTAMPTZ,
    executed_at   TIMESTAMPTZ
);

CREATE TABLE retention_plan_items (
    plan_id      UUID NOT NULL REFERENCES retention_plans(id),
    recording_id UUID NOT NULL REFERENCES recordings(id),
    action       TEXT NOT NULL,
    rule         TEXT NOT NULL,
    due_at       TIMESTAMPTZ NOT NULL,
    done_at      TIMESTAMPTZ,
    PRIMARY KEY (plan_id, recording_id)
);

-- What is left of a purged recording: enough to prove what was destroyed, when and why.
CREATE TABLE tombstones (
    recording_id UUID PRIMARY KEY REFERENCES recordings(id),
    rule         TEXT NOT NULL,
    objects      JSONB NOT NULL,                -- JSON [{sha256, size, role}]
    deleted_at   TIMESTAMPTZ NOT NULL,
    purged_at    TIMESTAMPTZ NOT NULL,
    certificate  TEXT NOT NULL
);

-- Audit log (reference/audit-anchors.md §5.3): an RFC 6962 tree in the Go "stored hash" layout.
CREATE TABLE tlog_state (
    log_id SMALLINT PRIMARY KEY CHECK (log_id = 1),
    origin TEXT NOT NULL,
    size   BIGINT NOT NULL,
    root   BYTEA NOT NULL
);

CREATE TABLE tlog_leaf (
    idx       BIGINT PRIMARY KEY,
    leaf      BYTEA NOT NULL,
    leaf_hash BYTEA NOT NULL,
    item_id   UUID NOT NULL,
    item_seq  BIGINT NOT NULL,
    event     TEXT NOT NULL,
    ts        TIMESTAMPTZ NOT NULL,
    UNIQUE (item_id, item_seq)
);

CREATE TABLE tlog_hash (
    sidx BIGINT PRIMARY KEY,
    hash BYTEA NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE tlog_checkpoint (
    size       BIGINT PRIMARY KEY,
    root       BYTEA NOT NULL,
    note       BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Per-item chain head: each item's records link back by hash (item.seq, item.prev).
CREATE TABLE audit_items (
    item_id     UUID PRIMARY KEY,
    kind        TEXT NOT NULL,
    event_count BIGINT NOT NULL,
    last_index  BIGINT NOT NULL,
    last_hash   BYTEA NOT NULL
);

-- The log tables are insert-only. These triggers stop accidents and casual edits; a superuser can
-- drop them, which is why `bwv audit verify` recomputes everything.
CREATE FUNCTION bwv_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER tlog_leaf_append_only BEFORE UPDATE OR DELETE ON tlog_leaf
    FOR EACH ROW EXECUTE FUNCTION bwv_append_only();
CREATE TRIGGER tlog_hash_append_only BEFORE UPDATE OR DELETE ON tlog_hash
    FOR EACH ROW EXECUTE FUNCTION bwv_append_only();
CREATE TRIGGER tlog_checkpoint_append_only BEFORE UPDATE OR DELETE ON tlog_checkpoint
    FOR EACH ROW EXECUTE FUNCTION bwv_append_only();
