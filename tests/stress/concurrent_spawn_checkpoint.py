#!/usr/bin/python3
"""stress/concurrent_spawn_checkpoint: many `grove serve` processes on one repository and one
database at once. Each initializes, spawns instances (launch false), then writes all its
log_checkpoint calls at once without waiting (pipelined) and reads the answers.

Asserted: every call succeeded; every acknowledged checkpoint is in the database, sequences
per instance unique and 1..N; all instances distinct, all worktrees listed by git and none
left locked; integrity_check ok; only JSON-RPC on stdout; exit 0 on stdin EOF.

usage: concurrent_spawn_checkpoint.py GROVE   (GROVE_STRESS_SCALE scales the sizes)
"""
import collections
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stresslib as S  # noqa: E402

PROCS = S.scaled(8, 2)
SPAWNS = 3
CHECKPOINTS = S.scaled(150, 10)


def main(grove):
    S.run_in_repo(grove, "grove-stress-cc-", run)


def run(repo):
    acked = {}  # server -> list of checkpoint dicts
    spawned = {}  # server -> list of instance ids
    barrier = threading.Barrier(PROCS)
    servers = [repo.server("server%d" % i) for i in range(PROCS)]
    timings = {}

    def drive(idx):
        srv = servers[idx]
        try:
            srv.initialize()
            barrier.wait(timeout=120)
            t0 = time.monotonic()
            ids = []
            for k in range(SPAWNS):
                args = {"launch": False, "prompt": "stress %d/%d" % (idx, k)}
                if k % 2 == 0:
                    args["issue"] = 100 + k  # ids of one prefix are allocated concurrently
                inst = srv.ok("spawn_work_instance", **args)["instance"]
                S.check(inst["status"] == "running", "spawned %s is %s", inst["id"], inst["status"])
                ids.append(inst["id"])
            spawned[idx] = ids
            t1 = time.monotonic()
            # All checkpoint calls in one go, answers read afterwards (a writer thread, so
            # that a full stdout pipe on the server's side can never block us both).
            reqs, chunks = [], []
            for n in range(CHECKPOINTS):
                rid, data = srv.request_bytes("tools/call", {
                    "name": "log_checkpoint",
                    "arguments": {"instance_id": ids[n % len(ids)], "phase": "p%d" % (n % 5),
                                  "name": "cp%d" % n, "status": "in_progress",
                                  "data": {"server": idx, "n": n}, "message": "m%d" % n}})
                reqs.append(rid)
                chunks.append(data)
            writer = threading.Thread(target=srv.write, args=(b"".join(chunks),))
            writer.start()
            got = []
            for rid in reqs:
                cp = S.tool_result(srv.name, "log_checkpoint", srv.response(rid))["checkpoint"]
                got.append(cp)
            writer.join()
            acked[idx] = got
            timings[idx] = (t1 - t0, time.monotonic() - t1)
            srv.close()
        except BaseException:
            srv.kill()
            sys.stderr.write("%s stderr:\n%s\n" % (srv.name, srv.stderr_tail()))
            raise

    t = time.monotonic()
    S.run_threads([lambda i=i: drive(i) for i in range(PROCS)])
    elapsed = time.monotonic() - t

    # ---- the database after every server has exited --------------------------
    ids = [i for idx in sorted(spawned) for i in spawned[idx]]
    S.check(len(ids) == PROCS * SPAWNS, "spawned %d of %d", len(ids), PROCS * SPAWNS)
    S.check(len(set(ids)) == len(ids), "instance ids are not distinct: %s",
            sorted(x for x, c in collections.Counter(ids).items() if c > 1))
    rows = {r["id"]: r for r in repo.rows()}
    for i in ids:
        S.check(i in rows and rows[i]["status"] == "running", "row of %s missing or not running", i)

    per_instance = collections.defaultdict(list)
    for idx, cps in acked.items():
        for cp in cps:
            per_instance[cp["instance_id"]].append(cp)
    db_cps = repo.sql("SELECT id, instance_id, sequence, name FROM grove_checkpoints")
    by_id = {r[0]: r for r in db_cps}
    total = 0
    for inst, cps in per_instance.items():
        for cp in cps:
            S.check(cp["id"] in by_id, "acknowledged checkpoint %s (%s #%s) is not in the database",
                    cp["id"], inst, cp["sequence"])
            S.check(by_id[cp["id"]][1:] == (inst, cp["sequence"], cp["name"]),
                    "checkpoint %s differs in the database: %s", cp["id"], by_id[cp["id"]])
        seqs = sorted(r[2] for r in db_cps if r[1] == inst)
        S.check(seqs == list(range(1, len(cps) + 1)),
                "%s: sequences are not 1..%d: %s", inst, len(cps), seqs)
        total += len(cps)
    S.check(len(db_cps) == total == PROCS * CHECKPOINTS, "checkpoints: %d in the database, %d "
            "acknowledged, %d sent", len(db_cps), total, PROCS * CHECKPOINTS)
    pairs = repo.sql("SELECT count(*), count(DISTINCT instance_id || '/' || sequence) "
                     "FROM grove_checkpoints")[0]
    S.check(pairs[0] == pairs[1], "(instance_id, sequence) not unique: %s", pairs)

    # ---- git's view ----------------------------------------------------------
    wts = repo.worktrees()
    S.check(len(wts) == len(ids) + 1, "git worktree list shows %d entries, expected %d",
            len(wts), len(ids) + 1)
    for i in ids:
        path = rows[i]["worktree_path"]
        S.check(path in wts, "%s: %s is not in git worktree list", i, path)
        S.check(wts[path]["locked"] is None, "%s: worktree left locked (%s)", i, wts[path]["locked"])
        S.check(wts[path]["branch"] == rows[i]["branch_name"], "%s: worktree on %s, row says %s",
                i, wts[path]["branch"], rows[i]["branch_name"])
        S.check(os.path.isfile(os.path.join(path, "src", "d8", "f40.txt")), "%s: checkout incomplete", i)
    S.check(repo.journals() == [], "journals left: %s", repo.journals())
    S.check(repo.integrity() == "ok", "integrity_check: %s", repo.integrity())
    failed = repo.sql("SELECT tool_name, error_message FROM grove_mcp_events WHERE success = 0")
    S.check(not failed, "failed calls recorded: %s", failed[:5])

    calls = PROCS * (SPAWNS + CHECKPOINTS)
    spawn_s = max(v[0] for v in timings.values())
    cp_s = max(v[1] for v in timings.values())
    print("%d processes, %d spawns, %d checkpoints (%d pipelined per process), %d tool calls "
          "in %.1f s; slowest process: spawns %.1f s, checkpoints %.1f s (%.0f calls/s)"
          % (PROCS, len(ids), total, CHECKPOINTS, calls, elapsed, spawn_s, cp_s,
             PROCS * CHECKPOINTS / cp_s if cp_s else 0))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(os.path.realpath(sys.argv[1]))
