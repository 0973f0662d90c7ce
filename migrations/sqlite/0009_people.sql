-- People: who signs in (through the force's identity provider), the sessions and API tokens they
-- hold, and the teams officers belong to. Names live here, never in the audit log: a person is
-- named in the log only by this table's id.

-- The team (station) an officer belongs to: a supervisor reaches the footage of their team.
ALTER TABLE officers ADD COLUMN team TEXT;

CREATE TABLE people (
    id            BLOB PRIMARY KEY,
    -- Who the identity provider says this is: issuer and subject (Entra ID: tenant and object id).
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    name          TEXT,
    -- The roles the identity provider gave at the last sign-in, space-separated (Role spellings).
    roles         TEXT NOT NULL DEFAULT '',
    -- The person's own officer record (staff number), for footage they recorded.
    officer_id    TEXT REFERENCES officers(id),
    -- The team the person works in; a claim may set it at sign-in, an administrator otherwise.
    team          TEXT,
    created_at    TEXT NOT NULL,
    last_sign_in  TEXT,
    UNIQUE (issuer, subject)
);

-- Browser sessions. Only the SHA-256 of the cookie value is kept, so the table cannot be used to
-- sign in; `created_at` bounds a session's whole life whatever its activity.
CREATE TABLE web_sessions (
    id_sha256  TEXT PRIMARY KEY,
    person_id  BLOB REFERENCES people(id),
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX web_sessions_expires_at ON web_sessions (expires_at);
CREATE INDEX web_sessions_person ON web_sessions (person_id);

-- API tokens for scripts: bound to a person and a subset of their roles, shown once, kept only as
-- the SHA-256 of the token, expiring and revocable.
CREATE TABLE api_tokens (
    id           BLOB PRIMARY KEY,
    person_id    BLOB NOT NULL REFERENCES people(id),
    label        TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    roles        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_person ON api_tokens (person_id);
