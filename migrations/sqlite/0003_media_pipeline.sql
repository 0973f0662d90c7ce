-- Media pipeline: what the probe and the derivatives made of each clip, and the job queue's
-- lease index. Clips stored before this migration get their media job here, so an upgrade
-- catches up on its own.

ALTER TABLE clips ADD COLUMN media_state TEXT NOT NULL DEFAULT 'pending'
    CHECK (media_state IN ('pending', 'playable', 'unplayable'));
ALTER TABLE clips ADD COLUMN media_error TEXT;   -- the decoder's reason when unplayable

-- Reclaiming expired leases scans only running jobs.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE status = 'running';

INSERT INTO jobs (id, kind, payload, status, priority, run_at, attempts, max_attempts,
                  unique_key, created_at, updated_at)
SELECT randomblob(16), 'media',
       json_object('clip', lower(hex(substr(c.id, 1, 4))) || '-' || lower(hex(substr(c.id, 5, 2))) || '-' ||
                           lower(hex(substr(c.id, 7, 2))) || '-' || lower(hex(substr(c.id, 9, 2))) || '-' ||
                           lower(hex(substr(c.id, 11, 6)))),
       'queued', 0, strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), 0, 5,
       'media:' || lower(hex(substr(c.id, 1, 4))) || '-' || lower(hex(substr(c.id, 5, 2))) || '-' ||
                   lower(hex(substr(c.id, 7, 2))) || '-' || lower(hex(substr(c.id, 9, 2))) || '-' ||
                   lower(hex(substr(c.id, 11, 6))),
       strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'), strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')
FROM clips c JOIN recordings r ON r.id = c.recording_id
WHERE r.status <> 'incomplete';
