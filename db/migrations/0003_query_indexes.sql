-- grove 0003: indexes that keep query_events and the liveness check fast at
-- scale (measured by tests/bench with 10,000 instances and 1,000,000 events).
-- Never edit this file once released: its sha256 is stored when applied.
-- +up

-- query_events lists newest first (ORDER BY timestamp DESC, id DESC). With
-- `tool` or `instance_id` these indexes (every index ends with the rowid,
-- id) give a page in that order instead of sorting every event of the tool
-- or the instance. They replace the (tool_name, id) and (instance_id, id)
-- indexes, which no statement needs once these exist.
CREATE INDEX grove_events_tool_time ON grove_mcp_events (tool_name, timestamp);
CREATE INDEX grove_events_instance_time ON grove_mcp_events (instance_id, timestamp);
DROP INDEX grove_events_tool;
DROP INDEX grove_events_instance;

-- The liveness check that runs before every read of instances looks at the
-- running instances with an agent: those rows only, not every running one.
CREATE INDEX grove_instances_agents ON grove_instances (created_at, id)
    WHERE status = 'running' AND (tmux_session IS NOT NULL OR agent_pid IS NOT NULL);

-- +down
DROP INDEX IF EXISTS grove_instances_agents;
CREATE INDEX grove_events_instance ON grove_mcp_events (instance_id, id);
CREATE INDEX grove_events_tool ON grove_mcp_events (tool_name, id);
DROP INDEX IF EXISTS grove_events_instance_time;
DROP INDEX IF EXISTS grove_events_tool_time;
