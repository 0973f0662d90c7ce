-- Sharing a disclosure package by link, as forces share footage with the CPS through their
-- evidence system: a named recipient, an unguessable link (kept here only as its SHA-256), a
-- passcode given separately (kept only as an Argon2id hash), an expiry, and revocation. Every
-- open, play and download through a share is an audit record on the share's own chain.

CREATE TABLE shares (
    id            BLOB PRIMARY KEY,
    package_id    BLOB NOT NULL,
    case_urn      TEXT NOT NULL,
    recipient     TEXT NOT NULL,
    token_sha256  TEXT NOT NULL UNIQUE,
    passcode_hash TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    revoked_by    TEXT
);
CREATE INDEX shares_case ON shares (case_urn, created_at);
