-- A person who may see a recording (its officer, say) asks a supervisor to review its
-- classification: the request puts it in the supervisors' review queue until someone classifies
-- it. The request and its reason are also an audit record (`review_requested`).

CREATE TABLE review_requests (
    recording_id BLOB PRIMARY KEY REFERENCES recordings(id),
    requested_by TEXT NOT NULL,
    reason       TEXT NOT NULL,
    requested_at TEXT NOT NULL
);
