-- grove 0007: agents you can see (CONTRACT §7). Each instance records the
-- profile its agent was launched with (agent_profile: claude, codex,
-- gemini, custom or a profile of config agent.profiles), the agent's state
-- (agent_state: none, starting, working, waiting, idle, exited) and since
-- when (agent_state_since, UTC ISO 8601 with milliseconds), and the agent
-- CLI's own session id (agent_session_id), which resume_instance hands back
-- to the CLI. Instances made before this migration keep what is known of
-- them: a running one with an agent is 'idle' until something is seen, an
-- ended one 'exited', one without agent 'none'.
-- Never edit this file once released: its sha256 is stored when applied.
-- +up

ALTER TABLE grove_instances ADD COLUMN agent_profile TEXT;
ALTER TABLE grove_instances ADD COLUMN agent_state TEXT NOT NULL DEFAULT 'none'
    CHECK (agent_state IN ('none', 'starting', 'working', 'waiting', 'idle', 'exited'));
ALTER TABLE grove_instances ADD COLUMN agent_state_since TEXT;
ALTER TABLE grove_instances ADD COLUMN agent_session_id TEXT;
UPDATE grove_instances
   SET agent_state = CASE WHEN tmux_session IS NULL AND agent_pid IS NULL THEN 'none'
                          WHEN status = 'running' THEN 'idle'
                          ELSE 'exited' END,
       agent_state_since = COALESCE(terminated_at, created_at);
-- query_instances {status, agent_state}: "which running agent needs me"
CREATE INDEX grove_instances_agent_state
    ON grove_instances(status, agent_state, created_at, id);

-- +down
DROP INDEX grove_instances_agent_state;
ALTER TABLE grove_instances DROP COLUMN agent_session_id;
ALTER TABLE grove_instances DROP COLUMN agent_state_since;
ALTER TABLE grove_instances DROP COLUMN agent_state;
ALTER TABLE grove_instances DROP COLUMN agent_profile;
