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
SELECT gen_random_uuid(), 'media', jsonb_build_object('clip', c.id::text), 'queued', 0, now(), 0, 5,
       'media:' || c.id::text, now(), now()
FROM clips c JOIN recordings r ON r.id = c.recording_id
WHERE r.status <> 'incomplete';
