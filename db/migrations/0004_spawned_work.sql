-- grove 0004: a third relationship type, `spawned_work` (an agent's server
-- that spawns a work instance becomes its parent: CONTRACT §5, caller
-- rights). SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt with the same columns, rows and ids. Nothing references it (views
-- and triggers do not; its own foreign keys point at grove_instances).
-- Never edit this file once released: its sha256 is stored when applied.
-- +up

CREATE TABLE grove_instance_relationships_0004 (
    id                INTEGER PRIMARY KEY,
    parent_instance   TEXT NOT NULL
                      REFERENCES grove_instances (id) ON DELETE CASCADE,
    child_instance    TEXT NOT NULL
                      REFERENCES grove_instances (id) ON DELETE CASCADE,
    relationship_type TEXT NOT NULL
                      CHECK (relationship_type IN ('spawned_review', 'created_fork',
                                                   'spawned_work')),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (parent_instance, child_instance, relationship_type)
);
INSERT INTO grove_instance_relationships_0004
    (id, parent_instance, child_instance, relationship_type, created_at)
    SELECT id, parent_instance, child_instance, relationship_type, created_at
    FROM grove_instance_relationships;
DROP TABLE grove_instance_relationships;
ALTER TABLE grove_instance_relationships_0004 RENAME TO grove_instance_relationships;
CREATE INDEX grove_relationships_child
    ON grove_instance_relationships (child_instance);
CREATE INDEX grove_relationships_parent
    ON grove_instance_relationships (parent_instance);

-- +down
-- A database that already holds `spawned_work` rows cannot go back: the copy
-- below then fails its CHECK constraint and the rollback is refused, with
-- every row kept (the migration runs in one transaction).
CREATE TABLE grove_instance_relationships_0003 (
    id                INTEGER PRIMARY KEY,
    parent_instance   TEXT NOT NULL
                      REFERENCES grove_instances (id) ON DELETE CASCADE,
    child_instance    TEXT NOT NULL
                      REFERENCES grove_instances (id) ON DELETE CASCADE,
    relationship_type TEXT NOT NULL
                      CHECK (relationship_type IN ('spawned_review', 'created_fork')),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (parent_instance, child_instance, relationship_type)
);
INSERT INTO grove_instance_relationships_0003
    (id, parent_instance, child_instance, relationship_type, created_at)
    SELECT id, parent_instance, child_instance, relationship_type, created_at
    FROM grove_instance_relationships;
DROP TABLE grove_instance_relationships;
ALTER TABLE grove_instance_relationships_0003 RENAME TO grove_instance_relationships;
CREATE INDEX grove_relationships_child
    ON grove_instance_relationships (child_instance);
CREATE INDEX grove_relationships_parent
    ON grove_instance_relationships (parent_instance);
