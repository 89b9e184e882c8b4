-- grove 0002: the report views of issue #7 and the indexes behind them.
-- Views read grove's own tables only (never beads' `issues`: beads rebuilds
-- that table in its own migrations, and a dependent view would break them);
-- reports joined with beads issues are TEMP views on grove's connection.
-- Never edit this file once released: its sha256 is stored when applied.
-- +up

-- Per tool: median and p95 duration read the tool's events in duration
-- order from this index (SEARCH ... (tool_name=?)), never the whole table.
CREATE INDEX grove_events_tool_duration
    ON grove_mcp_events (tool_name, duration_ms, success);
-- Phase funnel and exports of a time range.
CREATE INDEX grove_checkpoints_created ON grove_checkpoints (created_at);
-- The cached title of an instance's GitHub issue (grove_recent_failures).
CREATE INDEX grove_github_issues_number ON grove_github_issues (number, fetched_at);

-- Failed tool calls of the last 24 hours with the instance and its issue
-- (GitHub number with the cached title, or beads id), newest first.
-- Served by grove_events_success (success, timestamp).
DROP VIEW grove_recent_failures;
CREATE VIEW grove_recent_failures AS
    SELECT e.id AS id,
           e.tool_name AS tool_name,
           e.instance_id AS instance_id,
           i.type AS instance_type,
           i.status AS instance_status,
           i.issue_number AS issue_number,
           i.beads_id AS beads_id,
           (SELECT g.title FROM grove_github_issues g
             WHERE g.number = i.issue_number
             ORDER BY g.fetched_at DESC LIMIT 1) AS issue_title,
           e.error_message AS error_message,
           e.duration_ms AS duration_ms,
           e.timestamp AS timestamp
      FROM grove_mcp_events e
      LEFT JOIN grove_instances i ON i.id = e.instance_id
     WHERE e.success = 0
       AND e.timestamp >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
     ORDER BY e.timestamp DESC, e.id DESC;

-- Running instances whose latest checkpoint (any status) is older than the
-- threshold, or that have logged none since they were created that long
-- ago. The threshold is config stats.stale_after_hours (a positive number),
-- default 24. created_at/phase/... are the latest checkpoint's (NULL when
-- there is none); age_minutes counts from last_activity_at.
DROP VIEW grove_stale_checkpoints;
CREATE VIEW grove_stale_checkpoints AS
    SELECT i.id AS instance_id,
           i.type AS instance_type,
           i.issue_number AS issue_number,
           i.beads_id AS beads_id,
           c.phase AS phase,
           c.name AS name,
           c.status AS status,
           c.sequence AS sequence,
           c.created_at AS created_at,
           COALESCE(c.created_at, i.created_at) AS last_activity_at,
           CAST((julianday('now') - julianday(COALESCE(c.created_at, i.created_at))) * 1440
                AS INTEGER) AS age_minutes,
           t.hours AS threshold_hours
      FROM grove_instances i
      JOIN (SELECT COALESCE((SELECT CAST(u.value AS REAL) FROM grove_user_config u
                              WHERE u.key = 'stats.stale_after_hours' AND u.is_encrypted = 0
                                AND CAST(u.value AS REAL) > 0), 24) AS hours) t
      LEFT JOIN grove_checkpoints c
             ON c.instance_id = i.id
            AND c.sequence = (SELECT MAX(c2.sequence) FROM grove_checkpoints c2
                               WHERE c2.instance_id = i.id)
     WHERE i.status = 'running'
       AND COALESCE(c.created_at, i.created_at)
           < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || t.hours || ' hours')
     ORDER BY last_activity_at, i.id;

-- Per tool: calls, successes, failures, success rate, mean, median and p95
-- duration (p95: nearest rank; median: the mean of the two middle values
-- when the count is even). A filter on tool_name is pushed into every
-- part, so each reads only that tool's range of grove_events_tool_duration.
DROP VIEW grove_tool_success_rate;
CREATE VIEW grove_tool_success_rate AS
    SELECT t.tool_name AS tool_name,
           t.calls AS calls,
           t.successes AS successes,
           t.calls - t.successes AS failures,
           CAST(t.successes AS REAL) / t.calls AS success_rate,
           t.avg_duration_ms AS avg_duration_ms,
           (SELECT AVG(r.duration_ms)
              FROM (SELECT e.duration_ms AS duration_ms,
                           ROW_NUMBER() OVER (ORDER BY e.duration_ms) AS rn
                      FROM grove_mcp_events e WHERE e.tool_name = t.tool_name) r
             WHERE r.rn IN ((t.calls + 1) / 2, (t.calls + 2) / 2)) AS median_duration_ms,
           (SELECT r.duration_ms
              FROM (SELECT e.duration_ms AS duration_ms,
                           ROW_NUMBER() OVER (ORDER BY e.duration_ms) AS rn
                      FROM grove_mcp_events e WHERE e.tool_name = t.tool_name) r
             WHERE r.rn = (t.calls * 95 + 99) / 100) AS p95_duration_ms
      FROM (SELECT tool_name,
                   COUNT(*) AS calls,
                   SUM(success) AS successes,
                   AVG(duration_ms) AS avg_duration_ms
              FROM grove_mcp_events
             GROUP BY tool_name) t;
-- +down
DROP VIEW IF EXISTS grove_tool_success_rate;
DROP VIEW IF EXISTS grove_stale_checkpoints;
DROP VIEW IF EXISTS grove_recent_failures;
DROP INDEX IF EXISTS grove_github_issues_number;
DROP INDEX IF EXISTS grove_checkpoints_created;
DROP INDEX IF EXISTS grove_events_tool_duration;

-- The definitions of 0001, unchanged.
CREATE VIEW grove_recent_failures AS
    SELECT id, tool_name, instance_id, error_message, duration_ms, timestamp
      FROM grove_mcp_events
     WHERE success = 0
       AND timestamp >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')
     ORDER BY timestamp DESC, id DESC;

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
