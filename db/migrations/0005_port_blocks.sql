-- grove 0005: port blocks (CONTRACT §6). Each new instance gets a block of
-- ports that no running instance holds, so that two agents' dev servers
-- never clash. A block is reserved (in one BEGIN IMMEDIATE transaction, so
-- concurrent spawns never get the same one) before the setup command runs,
-- which is before the instance's row exists: hence a table of its own, not
-- columns of grove_instances, and no foreign key. A block is held while its
-- instance runs, or while the instance is still being made; the row stays
-- after the instance ends (it shows which ports it had) until the block is
-- taken again.
-- Never edit this file once released: its sha256 is stored when applied.
-- +up

CREATE TABLE grove_port_blocks (
    id          INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL UNIQUE,
    first_port  INTEGER NOT NULL CHECK (first_port BETWEEN 1 AND 65535),
    port_count  INTEGER NOT NULL CHECK (port_count BETWEEN 1 AND 65535),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CHECK (first_port + port_count - 1 <= 65535)
);
CREATE INDEX grove_port_blocks_first ON grove_port_blocks (first_port);

-- +down
DROP TABLE IF EXISTS grove_port_blocks;
