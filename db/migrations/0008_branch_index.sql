-- grove 0008: the running instances on a given branch, found through an
-- index instead of by reading every running row. get_instance compares its
-- instance only with the running instances whose branch still exists, and
-- at 10,000 instances, 1,000 of them running, reading them all cost more
-- than everything else the call does.
-- Never edit this file once released: its sha256 is stored when applied.
-- +up

CREATE INDEX grove_instances_branch ON grove_instances (branch_name, status);

-- +down
DROP INDEX grove_instances_branch;
