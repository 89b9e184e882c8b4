-- grove 0006: landing (CONTRACT §6). land_instance records on the instance
-- the commit its branch became on the target (landed_commit) and when
-- (landed_at, UTC ISO 8601 with milliseconds); both NULL until it lands.
-- Never edit this file once released: its sha256 is stored when applied.
-- +up

ALTER TABLE grove_instances ADD COLUMN landed_commit TEXT;
ALTER TABLE grove_instances ADD COLUMN landed_at TEXT;

-- +down
ALTER TABLE grove_instances DROP COLUMN landed_at;
ALTER TABLE grove_instances DROP COLUMN landed_commit;
