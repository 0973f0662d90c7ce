-- Hardening against real controllers and hostile docks.

-- The force's own register of officers and cameras, told apart from what a docking station
-- announced (allowed only with `axis.auto_register`). Statements name the force's record; a
-- dock's names for people and cameras are labels, kept per dock, never written here.
ALTER TABLE officers ADD COLUMN registered_by TEXT NOT NULL DEFAULT 'force'
    CHECK (registered_by IN ('force', 'dock'));
ALTER TABLE officers ADD COLUMN announced_by UUID REFERENCES docks(id);
ALTER TABLE devices ADD COLUMN registered_by TEXT NOT NULL DEFAULT 'force'
    CHECK (registered_by IN ('force', 'dock'));
ALTER TABLE devices ADD COLUMN announced_by UUID REFERENCES docks(id);

-- Before this version a dock's Users and Devices objects wrote straight into the register.
-- What a dock sent is a label: names and models that are still a dock's words are cleared (the
-- force names its officers again with `bwv officer-add`), and what a dock deactivated is active
-- again (the force had no way to deactivate anything itself; `unknown` is the rejected-content
-- placeholder, inactive on purpose).
UPDATE officers SET display_name = NULL
WHERE display_name IS NOT NULL AND EXISTS (
    SELECT 1 FROM axis_registry r WHERE r.container = 'Users'
    AND COALESCE(r.metadata->>'UserID', r.name) = officers.id
    AND r.metadata->>'Name' = officers.display_name);
UPDATE officers SET active = TRUE WHERE NOT active AND id <> 'unknown';
UPDATE devices SET model = NULL
WHERE model IS NOT NULL AND EXISTS (
    SELECT 1 FROM axis_registry r WHERE r.container = 'Devices' AND r.name = devices.serial
    AND (r.metadata->>'Model' = devices.model OR r.metadata->>'Name' = devices.model));
UPDATE devices SET active = TRUE WHERE NOT active AND serial <> 'unknown';

-- Each controller's users (Axis `Users/<UserUUID>`). The UUID is the controller's own id for a
-- person and belongs to that controller only; `user_id` is the force's id for them (Axis
-- `UserID`, when the controller stores one), `officer_id` whom their footage is filed under
-- (none while bwv cannot tell).
CREATE TABLE axis_users (
    dock_id    UUID NOT NULL REFERENCES docks(id),
    uuid       TEXT NOT NULL,
    name       TEXT,
    user_id    TEXT,
    active     BOOLEAN NOT NULL,
    officer_id TEXT REFERENCES officers(id),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (dock_id, uuid)
);

-- Every mapping a controller ever gave, so footage filed under an earlier one can be explained.
CREATE TABLE axis_user_history (
    id         UUID PRIMARY KEY,
    dock_id    UUID NOT NULL REFERENCES docks(id),
    uuid       TEXT NOT NULL,
    name       TEXT,
    user_id    TEXT,
    active     BOOLEAN NOT NULL,
    officer_id TEXT REFERENCES officers(id),
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX axis_user_history_user ON axis_user_history (dock_id, uuid, changed_at);

-- The docking station's name for the officer when the footage arrived (a label, not a record).
ALTER TABLE recordings ADD COLUMN officer_label TEXT;

-- Bytes a dock sent under an object's name that are not (or no longer) the object: an earlier
-- version it replaced before Complete, or a clip refused because Complete won the race. Both
-- are kept with the recording, and purged with it: they may be evidence.
CREATE TABLE axis_object_versions (
    id           UUID PRIMARY KEY,
    container_id UUID NOT NULL REFERENCES axis_containers(id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('clip', 'key', 'bookmark', 'gnss', 'other')),
    sha256       TEXT NOT NULL REFERENCES objects(sha256),
    size         BIGINT NOT NULL,
    md5          TEXT NOT NULL,
    metadata     JSONB NOT NULL DEFAULT '{}',
    received_at  TIMESTAMPTZ NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('superseded', 'refused-after-complete')),
    outcome_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX axis_object_versions_container ON axis_object_versions (container_id);
CREATE INDEX axis_object_versions_sha256 ON axis_object_versions (sha256);
