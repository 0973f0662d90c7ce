-- Searching a force's recordings (1,000,000 and more) a page at a time, newest first: for each
-- filter people search by, an index that gives its recordings already in that order, so a page
-- is read from the index rather than sorted from a scan. Bookmarks are found by recording.

CREATE INDEX recordings_newest ON recordings (recorded_at, id);
CREATE INDEX recordings_officer_newest ON recordings (officer_id, recorded_at, id);
CREATE INDEX recordings_device_newest ON recordings (device_serial, recorded_at, id);
CREATE INDEX recordings_dock_newest ON recordings (dock_id, recorded_at, id);
CREATE INDEX recordings_category_newest ON recordings (category, recorded_at, id);
CREATE INDEX recordings_classification_newest ON recordings (classification, recorded_at, id);
CREATE INDEX recordings_status_newest ON recordings (status, recorded_at, id);
CREATE INDEX bookmarks_recording ON bookmarks (recording_id);
CREATE INDEX officers_team ON officers (team);
DROP INDEX recordings_recorded_at;
DROP INDEX recordings_officer;
