-- grove 0001: the initial schema (../shared/CONTRACT.md §4).
-- Every table is namespaced grove_ so it can live beside another tool's
-- tables (beads). Timestamps: UTC ISO 8601 with milliseconds.
-- Never edit this file once released: its sha256 is stored when applied.
-- +up
CREATE TABLE IF NOT EXISTS grove_schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE grove_instances (
    id            TEXT PRIMARY KEY NOT NULL,
    type          TEXT NOT NULL CHECK (type IN ('work', 'review', 'adhoc')),
    status        TEXT NOT NULL DEFAULT 'running'
                  CHECK (status IN ('running', 'terminated')),
    worktree_path TEXT NOT NULL,
    branch_name   TEXT NOT NULL,
    base_branch   TEXT,
    base_commit   TEXT,
    tmux_session  TEXT,
    agent_pid     INTEGER,
    issue_number  INTEGER CHECK (issue_number IS NULL OR issue_number > 0),
    beads_id      TEXT,
    pr_number     INTEGER,
    pr_url        TEXT,
    prompt        TEXT,
    agent_number  INTEGER NOT NULL CHECK (agent_number >= 1),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    terminated_at TEXT,
    metadata      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
);

CREATE INDEX grove_instances_status_created
    ON grove_instances (status, created_at, id);
CREATE INDEX grove_instances_created
    ON grove_instances (created_at, id);
CREATE INDEX grove_instances_prefix
    ON grove_instances (type, issue_number, beads_id, agent_number);

CREATE TABLE grove_instance_relationships (
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

CREATE INDEX grove_relationships_child
    ON grove_instance_relationships (child_instance);
CREATE INDEX grove_relationships_parent
    ON grove_instance_relationships (parent_instance);

-- instance_id is deliberately not a foreign key: events outlive instances.
CREATE TABLE grove_mcp_events (
    id            INTEGER PRIMARY KEY,
    instance_id   TEXT,
    tool_name     TEXT NOT NULL,
    success       INTEGER NOT NULL CHECK (success IN (0, 1)),
    error_message TEXT,
    metadata      TEXT DEFAULT '{}' CHECK (metadata IS NULL OR json_valid(metadata)),
    duration_ms   REAL NOT NULL DEFAULT 0,
    timestamp     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX grove_events_instance ON grove_mcp_events (instance_id, id);
CREATE INDEX grove_events_tool ON grove_mcp_events (tool_name, id);
CREATE INDEX grove_events_timestamp ON grove_mcp_events (timestamp);
CREATE INDEX grove_events_success ON grove_mcp_events (success, timestamp);

CREATE TABLE grove_checkpoints (
    id          INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL
                REFERENCES grove_instances (id) ON DELETE CASCADE,
    phase       TEXT NOT NULL,
    name        TEXT,
    status      TEXT NOT NULL DEFAULT 'in_progress'
                CHECK (status IN ('in_progress', 'completed', 'failed')),
    data        TEXT CHECK (data IS NULL OR json_valid(data)),
    message     TEXT,
    commit_sha  TEXT,
    sequence    INTEGER NOT NULL CHECK (sequence >= 1),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- One sequence per checkpoint of an instance: UNIQUE (instance_id, sequence).
CREATE UNIQUE INDEX grove_checkpoints_sequence
    ON grove_checkpoints (instance_id, sequence);
CREATE INDEX grove_checkpoints_phase
    ON grove_checkpoints (instance_id, phase, sequence);

CREATE TABLE grove_feedback (
    id            INTEGER PRIMARY KEY,
    from_instance TEXT REFERENCES grove_instances (id) ON DELETE SET NULL,
    to_instance   TEXT NOT NULL
                  REFERENCES grove_instances (id) ON DELETE CASCADE,
    feedback_type TEXT NOT NULL
                  CHECK (feedback_type IN ('needs_work', 'suggestions',
                                           'clarification', 'approved')),
    priority      TEXT NOT NULL DEFAULT 'medium'
                  CHECK (priority IN ('low', 'medium', 'high')),
    feedback      TEXT NOT NULL,
    delivered     INTEGER NOT NULL DEFAULT 0 CHECK (delivered IN (0, 1)),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX grove_feedback_to ON grove_feedback (to_instance, id);
CREATE INDEX grove_feedback_from ON grove_feedback (from_instance);

-- A cache of GitHub issues; repo is 'owner/name'.
CREATE TABLE grove_github_issues (
    repo       TEXT NOT NULL,
    number     INTEGER NOT NULL CHECK (number > 0),
    title      TEXT NOT NULL,
    body       TEXT,
    state      TEXT NOT NULL,
    html_url   TEXT,
    labels     TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(labels)),
    fetched_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (repo, number)
);

CREATE TABLE grove_user_config (
    key          TEXT PRIMARY KEY NOT NULL,
    value        TEXT NOT NULL,
    is_encrypted INTEGER NOT NULL DEFAULT 0 CHECK (is_encrypted IN (0, 1)),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE VIEW grove_running_instances AS
    SELECT * FROM grove_instances WHERE status = 'running';

-- Failed tool calls of the last 24 hours, newest first.
CREATE VIEW grove_recent_failures AS
    SELECT id, tool_name, instance_id, error_message, duration_ms, timestamp
      FROM grove_mcp_events
     WHERE success = 0
       AND timestamp >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
     ORDER BY timestamp DESC, id DESC;

-- Running instances whose latest checkpoint is still in progress after 30 minutes.
CREATE VIEW grove_stale_checkpoints AS
    SELECT c.instance_id AS instance_id,
           c.phase AS phase,
           c.name AS name,
           c.created_at AS created_at,
           CAST((julianday('now') - julianday(c.created_at)) * 1440 AS INTEGER)
               AS age_minutes
      FROM grove_checkpoints c
      JOIN grove_instances i ON i.id = c.instance_id
     WHERE i.status = 'running'
       AND c.status = 'in_progress'
       AND c.sequence = (SELECT MAX(c2.sequence) FROM grove_checkpoints c2
                          WHERE c2.instance_id = c.instance_id)
       AND c.created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-30 minutes');

CREATE VIEW grove_tool_success_rate AS
    SELECT tool_name,
           COUNT(*) AS calls,
           SUM(success) AS successes,
           COUNT(*) - SUM(success) AS failures,
           CAST(SUM(success) AS REAL) / COUNT(*) AS success_rate,
           AVG(duration_ms) AS avg_duration_ms
      FROM grove_mcp_events
     GROUP BY tool_name;
-- +down
DROP VIEW IF EXISTS grove_tool_success_rate;
DROP VIEW IF EXISTS grove_stale_checkpoints;
DROP VIEW IF EXISTS grove_recent_failures;
DROP VIEW IF EXISTS grove_running_instances;
DROP TABLE IF EXISTS grove_issue_links;
DROP TABLE IF EXISTS grove_user_config;
DROP TABLE IF EXISTS grove_github_issues;
DROP TABLE IF EXISTS grove_feedback;
DROP TABLE IF EXISTS grove_checkpoints;
DROP TABLE IF EXISTS grove_mcp_events;
DROP TABLE IF EXISTS grove_instance_relationships;
DROP TABLE IF EXISTS grove_instances;
DROP TABLE IF EXISTS grove_schema_migrations;
