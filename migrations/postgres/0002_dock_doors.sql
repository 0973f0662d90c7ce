-- Dock doors: credentials and sessions, tus uploads, Axis containers and objects, GNSS points.

ALTER TABLE officers ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE devices ADD COLUMN active BOOLEAN NOT NULL DEFAULT TRUE;

-- Tokens are random and stored only as their SHA-256; every request re-checks the dock, so a
-- revoked dock's tokens stop working at once.
CREATE TABLE dock_tokens (
    token_sha256 TEXT PRIMARY KEY,
    dock_id      UUID NOT NULL REFERENCES docks(id),
    issued_at    TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX dock_tokens_expires_at ON dock_tokens (expires_at);

-- tus uploads: what the client declared and how far the durable bytes go.
CREATE TABLE uploads (
    id            UUID PRIMARY KEY,
    dock_id       UUID NOT NULL REFERENCES docks(id),
    length        BIGINT NOT NULL CHECK (length >= 0),
    upload_offset BIGINT NOT NULL CHECK (upload_offset >= 0 AND upload_offset <= length),
    metadata      JSONB NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('receiving', 'completed', 'terminated', 'expired')),
    recording_id  UUID REFERENCES recordings(id),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX uploads_expiry ON uploads (state, expires_at);

-- Axis recording containers (one per recording) and rejected-content containers.
CREATE TABLE axis_containers (
    id           UUID PRIMARY KEY,
    dock_id      UUID NOT NULL REFERENCES docks(id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('recording', 'rejected')),
    recording_id UUID NOT NULL REFERENCES recordings(id),
    metadata     JSONB NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (dock_id, name)
);

CREATE TABLE axis_objects (
    id           UUID PRIMARY KEY,
    container_id UUID NOT NULL REFERENCES axis_containers(id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('clip', 'key', 'bookmark', 'gnss', 'other')),
    sha256       TEXT NOT NULL REFERENCES objects(sha256),
    size         BIGINT NOT NULL,
    md5          TEXT NOT NULL,
    metadata     JSONB NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (container_id, name)
);

-- System/<SystemID>, Users/<UserUUID> and Devices/<Serial> objects as the dock last sent them.
CREATE TABLE axis_registry (
    dock_id    UUID NOT NULL REFERENCES docks(id),
    container  TEXT NOT NULL CHECK (container IN ('System', 'Users', 'Devices')),
    name       TEXT NOT NULL,
    metadata   JSONB NOT NULL DEFAULT '{}',
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (dock_id, container, name)
);

CREATE TABLE gnss_points (
    recording_id       UUID NOT NULL REFERENCES recordings(id),
    seq                BIGINT NOT NULL,
    longitude          DOUBLE PRECISION NOT NULL,
    latitude           DOUBLE PRECISION NOT NULL,
    seconds_from_start DOUBLE PRECISION,
    at                 TIMESTAMPTZ,
    PRIMARY KEY (recording_id, seq)
);
