#!/usr/bin/env python3
"""grove's benchmark suite (see README.md, "Performance").

Measures grove side by side with what a user would otherwise run, in one run
on one machine, and prints a markdown table; writes every figure as JSON.
Each figure is the median of repeated runs with its spread (min-max); each
comparison is a ratio computed per run from measurements taken in that same
run, then summarised the same way. Nothing here asserts a timing: goals are
reported as met or not.

Usually started by tests/bench/run.sh, which builds first:

    tests/bench/run.sh [--quick] [--json FILE]

or directly with the built programs:

    python3 tests/bench/bench.py --grove build/grove --client build/tests/bench/bench-client \
        --floor build/tests/bench/bench-floor --explain build/tests/bench/bench-explain \
        [--quick] [--json FILE] [--only cold_start,calls,...]
"""
import argparse
import fcntl
import glob
import json
import os
import platform
import random
import select
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import time

SECTIONS = ["cold_start", "calls", "queries", "worktree", "bigrepo", "agents", "memory", "reconcile", "diff",
            "conflicts", "land", "hook", "output", "subscriptions", "watch"]

SIZES = {
    "full": dict(
        start_runs=7, start_grove=20, start_sdk=5,
        calls_runs=5, lat_calls=2000, pipe_calls=5000, floor_calls=5000,
        q_instances=10000, q_events=1000000, q_runs=5, q_calls=400, q_files=5000,
        wt_files=4000, wt_runs=5, wt_workers=[1, 2, 4],
        big_files=50000, big_runs=5, big_workers=[0, 1, 2, 4],
        agents=8, agent_runs=3, agent_calls=500,
        mem_runs=3, mem_points=[10000, 100000],
        rec_instances=10000, rec_running=400, rec_runs=5, rec_starts=10,
        diff_files=5000, diff_runs=7,
        cf_files=5000, cf_instances=10, cf_commits=20, cf_runs=5, cf_calls=50,
        land_files=5000, land_runs=7,
        hook_instances=10000, hook_calls=300, hook_runs=3, out_lines=2000, out_calls=50,
        out_runs=3, sub_count=20, sub_seconds=20, sub_latency_runs=40,
        watch_instances=50, watch_files=1000, watch_seconds=20, watch_runs=3,
    ),
    "quick": dict(
        start_runs=2, start_grove=3, start_sdk=1,
        calls_runs=2, lat_calls=20, pipe_calls=50, floor_calls=50,
        q_instances=200, q_events=2000, q_runs=2, q_calls=10, q_files=60,
        wt_files=40, wt_runs=2, wt_workers=[1, 2],
        big_files=150, big_runs=1, big_workers=[0, 2],
        agents=8, agent_runs=2, agent_calls=5,
        mem_runs=2, mem_points=[100, 400],
        rec_instances=200, rec_running=20, rec_starts=2, rec_runs=2,
        diff_files=60, diff_runs=2,
        cf_files=60, cf_instances=3, cf_commits=3, cf_runs=2, cf_calls=3,
        land_files=60, land_runs=2,
        hook_instances=200, hook_calls=5, hook_runs=1, out_lines=200, out_calls=3, out_runs=1,
        sub_count=3, sub_seconds=2, sub_latency_runs=3,
        watch_instances=5, watch_files=20, watch_seconds=2, watch_runs=1,
    ),
}

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---- statistics ---------------------------------------------------------------


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def figure(runs, unit):
    """Median and spread (min, max) of one measurement repeated over runs."""
    runs = [float(x) for x in runs]
    return {
        "median": percentile(runs, 50),
        "min": min(runs),
        "max": max(runs),
        "runs": [round(x, 6) for x in runs],
        "unit": unit,
    }


def fmt(fig, digits=None):
    """'1.23 ms (1.20–1.30)' for the table."""
    if fig is None:
        return "n/a"
    unit = fig["unit"]

    def n(x):
        if digits is not None:
            return f"{x:.{digits}f}"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        if abs(x) >= 100:
            return f"{x:.0f}"
        if abs(x) >= 10:
            return f"{x:.1f}"
        return f"{x:.2f}"

    sep = " " if unit not in ("×", "%") else ""
    return f"{n(fig['median'])}{sep}{unit} ({n(fig['min'])}–{n(fig['max'])})"


# ---- processes ----------------------------------------------------------------


class Env:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        home = os.path.join(work, "home")
        os.makedirs(home, exist_ok=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GROVE_") and not k.startswith("GIT_")
               and k not in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY")}
        env.update(HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   GIT_CONFIG_NOSYSTEM="1", GROVE_LOG="error", LC_ALL="C")
        self.env = env
        self.settle_budget = float(args.settle)
        self.busy = []  # CPU + I/O-wait share used by others when each run began
        try:
            self.load_at_start = open("/proc/loadavg").read().split()[:3]
        except OSError:
            self.load_at_start = None

    def run(self, argv, cwd=None, check=True, env=None, **kw):
        r = subprocess.run(argv, cwd=cwd, env=env or self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, **kw)
        if check and r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(map(str, argv)), r.returncode,
                                                       r.stderr.decode(errors="replace")[-2000:]))
        return r

    def git(self, repo, *args, **kw):
        return self.run(["git", "-C", repo] + list(args), **kw)

    def client(self, argv, cwd, env=None):
        """Runs bench-client; returns its JSON."""
        r = self.run([self.args.client] + argv, cwd=cwd, env=env)
        return json.loads(r.stdout)

    def grove_session(self, repo, calls, env=None):
        """Runs `grove serve` for a few setup calls; returns the tool results in order."""
        lines = [json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench-setup", "version": "1"}}}),
            json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})]
        for i, (tool, args) in enumerate(calls):
            lines.append(json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                                     "params": {"name": tool, "arguments": args}}))
        r = self.run([self.args.grove, "serve"], cwd=repo, input=("\n".join(lines) + "\n").encode(),
                     env=env)
        byid = {}
        for line in r.stdout.decode().splitlines():
            msg = json.loads(line)
            if "id" in msg:
                byid[msg["id"]] = msg
        out = []
        for i in range(len(calls)):
            res = byid.get(i + 1, {}).get("result")
            if not res or res.get("isError"):
                raise RuntimeError("setup call %s failed: %s" % (calls[i][0], byid.get(i + 1)))
            out.append(res["structuredContent"])
        return out

    def errfile(self, name):
        return os.path.join(self.work, name + ".stderr")

    def settle(self):
        """Before each measured run: waits (up to --settle seconds in all) until the other
        processes on the machine leave the CPUs and the disk nearly idle, so that their work
        does not end up in our figures. Records how busy the machine was when the run began."""
        t0 = time.monotonic()
        while True:
            busy = cpu_busy(0.3)
            if busy < 0.10 or time.monotonic() - t0 >= self.settle_budget:
                break
            time.sleep(0.5)
        self.settle_budget = max(0.0, self.settle_budget - (time.monotonic() - t0))
        self.busy.append(100.0 * busy)


def cpu_busy(seconds):
    """Share of CPU time (iowait included: the disk is shared too) not idle over `seconds`."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        idle = v[3]  # iowait (v[4]) counts as busy
        return idle, sum(v[:8])
    try:
        i0, t0 = sample()
        time.sleep(seconds)
        i1, t1 = sample()
        return 1.0 - (i1 - i0) / max(1, t1 - t0)
    except (OSError, ValueError, IndexError):
        return 0.0


def write_requests(path, requests):
    with open(path, "w") as f:
        for method, params in requests:
            f.write(json.dumps({"method": method, "params": params}, separators=(",", ":")) + "\n")


def tool_req(tool, args):
    return ("tools/call", {"name": tool, "arguments": args})


# ---- repositories ----------------------------------------------------------------

WORDS = ("static int const char return if else for while struct size_t json_t err buf len "
         "void unsigned goto done fail out in ptr next prev node list count index value key "
         "data name path file line text state ctx repo db st rc ret malloc free memcpy "
         "strlen snprintf NULL 0 1 2 16 256 4096 = == != < > <= >= + - * / & | ! ; , ( ) { } "
         "[ ] -> . # include define ifdef endif typedef enum case break default switch").split()


def make_repo(env, path, nfiles, seed=20260501):
    """A reproducible repository: `nfiles` files of log-normal sizes (median ~3.5 KB, like
    a C/JS source tree), in nested folders of ~15 files, one commit made with
    git fast-import (fixed author and dates, so the commit id is the same every time)."""
    rng = random.Random(seed)
    corpus_lines = []
    size = 0
    while size < 6 << 20:  # 6 MiB of code-like text to cut files from
        indent = "    " * rng.choice((0, 1, 1, 2, 2, 3))
        line = indent + " ".join(rng.choices(WORDS, k=rng.randint(2, 12))) + "\n"
        corpus_lines.append(line)
        size += len(line)
    corpus = "".join(corpus_lines).encode()
    exts = [".c", ".h", ".js", ".py", ".md", ".json", ".txt", ".sh"]
    dirs = [""]
    files = []
    total = 0
    for i in range(nfiles):
        if i % 15 == 0:
            parent = rng.choice(dirs)
            depth = parent.count("/")
            d = (parent + "/" if parent and depth < 4 else "") + "d%03d" % (len(dirs))
            dirs.append(d)
        d = dirs[-1] if rng.random() < 0.8 else rng.choice(dirs[1:] or [""])
        name = "f%05d%s" % (i, rng.choice(exts))
        fsize = int(min(max(rng.lognormvariate(8.15, 1.1), 40), 400_000))
        off = rng.randrange(0, len(corpus) - fsize - 1)
        header = ("/* %s/%s */\n" % (d, name)).encode()
        content = header + corpus[off:off + fsize]
        mode = "100755" if name.endswith(".sh") else "100644"
        files.append(((d + "/" if d else "") + name, mode, content))
        total += len(content)
    os.makedirs(path)
    env.run(["git", "init", "-q", "-b", "main", path])
    env.git(path, "config", "user.name", "Bench")
    env.git(path, "config", "user.email", "bench@example.com")
    stream = [b"commit refs/heads/main\n",
              b"author Bench <bench@example.com> 1767225600 +0000\n",
              b"committer Bench <bench@example.com> 1767225600 +0000\n",
              b"data 19\nsynthetic benchmark\n"]
    for fpath, mode, content in files:
        stream.append(b"M %s inline %s\ndata %d\n" % (mode.encode(), fpath.encode(), len(content)))
        stream.append(content)
        stream.append(b"\n")
    stream.append(b"\n")
    env.run(["git", "-C", path, "fast-import", "--quiet"], input=b"".join(stream))
    env.git(path, "reset", "-q", "--hard", "main")
    return {"files": nfiles, "bytes": total,
            "commit": env.git(path, "rev-parse", "HEAD").stdout.decode().strip()}


def small_repo(env, name):
    path = os.path.join(env.work, name)
    make_repo(env, path, 20, seed=7)
    env.run([env.args.grove, "init"], cwd=path)
    return path


def db_path(repo):
    return os.path.join(repo, ".git", "grove", "grove.db")


# ---- 1. cold start -------------------------------------------------------------


def bench_cold_start(env, S):
    repo = small_repo(env, "start")
    grove_cmd = [env.args.grove, "serve"]
    sdk_cmd = None
    if env.args.node and env.args.node_modules:
        sdk_cmd = [env.args.node, os.path.join(HERE, "sdk-server.mjs")]
        env.env["GROVE_BENCH_NODE_MODULES"] = env.args.node_modules
    else:
        log("cold start: node or the SDK (tests/e2e: npm ci) is missing; SDK comparison skipped")
    # warm-up: page cache, dynamic loader
    env.client(["start", "2", "--"] + grove_cmd, cwd=repo)
    if sdk_cmd:
        env.client(["start", "1", "--"] + sdk_cmd, cwd=repo)
    first = os.path.join(env.work, "first-call.jsonl")
    write_requests(first, [tool_req("query_instances", {"limit": 1})])
    g, gl, gc, s, ratio, md, ml = [], [], [], [], [], [], []
    errors = 0
    for r in range(S["start_runs"]):
        env.settle()
        a = env.client(["start", "-e", env.errfile("start-grove"), str(S["start_grove"]), "--"]
                       + grove_cmd, cwd=repo)
        errors += a["errors"]
        g.append(percentile(a["ms"], 50))
        # the same, on to tools/list and a first tool call (which opens repository and database)
        b = env.client(["start", "-e", env.errfile("start-grove"), "--list", "--call", first,
                        str(max(1, S["start_grove"] // 4)), "--"] + grove_cmd, cwd=repo)
        errors += b["errors"]
        gl.append(percentile(b["list_ms"], 50))
        gc.append(percentile(b["call_ms"], 50))
        # 2026-07-28: server/discover, then a stateless tools/list (no initialize)
        b = env.client(["start", "-e", env.errfile("start-grove"), "--modern", "--list",
                        str(S["start_grove"]), "--"] + grove_cmd, cwd=repo)
        errors += b["errors"]
        md.append(percentile(b["ms"], 50))
        ml.append(percentile(b["list_ms"], 50))
        if sdk_cmd:
            b = env.client(["start", "-e", env.errfile("start-sdk"), str(S["start_sdk"]), "--"]
                           + sdk_cmd, cwd=repo)
            errors += b["errors"]
            s.append(percentile(b["ms"], 50))
            ratio.append(s[-1] / g[-1])
    out = {
        "grove_initialize_ms": figure(g, "ms"),
        "grove_initialize_tools_list_ms": figure(gl, "ms"),
        "grove_first_tool_call_ms": figure(gc, "ms"),
        "grove_discover_ms": figure(md, "ms"),
        "grove_discover_tools_list_ms": figure(ml, "ms"),
        "sdk_initialize_ms": figure(s, "ms") if s else None,
        "sdk_over_grove": figure(ratio, "×") if ratio else None,
        "errors": errors,
        "spawns_per_run": {"grove": S["start_grove"], "sdk": S["start_sdk"]},
    }
    return out


# ---- 2. call latency and throughput ------------------------------------------------


def checkpoint_args(instance_id):
    return {"instance_id": instance_id, "phase": "implement", "name": "step",
            "status": "in_progress", "data": {"files": ["src/parse.c"], "step": 1},
            "message": "parser fixed, tests next"}


def bench_calls(env, S):
    repo = small_repo(env, "calls")
    inst = env.grove_session(repo, [("spawn_work_instance", {"launch": False, "prompt": "bench"})])
    iid = inst[0]["instance"]["id"]
    reqs = os.path.join(env.work, "calls.jsonl")
    write_requests(reqs, [tool_req("log_checkpoint", checkpoint_args(iid))])
    cmd = ["--", env.args.grove, "serve"]
    err = env.errfile("calls")
    p50, p99, seq_rate, pipe_rate, floor_rate, ratio, errors = [], [], [], [], [], [], 0
    nd_rate, nd_ratio = [], []
    # warm-up
    env.client(["calls", "-e", err, reqs, "20"] + cmd, cwd=repo)
    for r in range(S["calls_runs"]):
        env.settle()
        f = json.loads(env.run([env.args.floor, db_path(repo), iid, str(S["floor_calls"])]).stdout)
        floor_rate.append(f["calls_per_s"])
        # the non-durable floor (synchronous = NORMAL: no fsync per commit), issue 17's measure
        nd = json.loads(env.run([env.args.floor, db_path(repo), iid, str(S["floor_calls"]),
                                 "--normal"]).stdout)
        nd_rate.append(nd["calls_per_s"])
        a = env.client(["calls", "-e", err, reqs, str(S["lat_calls"])] + cmd, cwd=repo)
        p50.append(percentile(a["lat_ms"], 50))
        p99.append(percentile(a["lat_ms"], 99))
        seq_rate.append(a["calls_per_s"])
        b = env.client(["calls", "-e", err, "--pipeline", reqs, str(S["pipe_calls"])] + cmd,
                       cwd=repo)
        pipe_rate.append(b["calls_per_s"])
        ratio.append(b["calls_per_s"] / f["calls_per_s"])
        nd_ratio.append(b["calls_per_s"] / nd["calls_per_s"])
        errors += a["errors"] + b["errors"] + (a["exit"] != 0) + (b["exit"] != 0)
        if a["errors"] or b["errors"]:
            log("calls: errors, first: " + (a["first_error"] or b["first_error"]))
    return {
        "log_checkpoint_p50_ms": figure(p50, "ms"),
        "log_checkpoint_p99_ms": figure(p99, "ms"),
        "log_checkpoint_sequential_per_s": figure(seq_rate, "/s"),
        "log_checkpoint_pipelined_per_s": figure(pipe_rate, "/s"),
        "floor_insert_txn_per_s": figure(floor_rate, "/s"),
        "pipelined_over_floor": figure(ratio, "×"),
        "floor_nondurable_insert_txn_per_s": figure(nd_rate, "/s"),
        "pipelined_over_nondurable_floor": figure(nd_ratio, "×"),
        "errors": errors,
        "calls_per_run": {"sequential": S["lat_calls"], "pipelined": S["pipe_calls"],
                          "floor": S["floor_calls"]},
    }


# ---- 3. queries at scale ---------------------------------------------------------

TOOLS = ["spawn_work_instance", "spawn_review_instance", "fork_instance", "create_pull_request",
         "send_feedback", "log_checkpoint", "get_checkpoint", "query_instances", "get_instance",
         "terminate_instance", "query_events"]


def seed(db, ninst, nevents):
    """ninst instances (10% running), reviews with relationships, 5 checkpoints each, and
    nevents events spread over the last days: generated by SQL in one transaction."""
    base = int(time.time()) - 2 * nevents - 3600
    tool_case = "CASE x % 11 " + " ".join(
        "WHEN %d THEN '%s'" % (i, t) for i, t in enumerate(TOOLS)) + " END"
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA foreign_keys = ON")
    c.execute("BEGIN IMMEDIATE")
    c.execute("""
        WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?1)
        INSERT INTO grove_instances (id, type, status, worktree_path, branch_name, base_branch,
            base_commit, issue_number, prompt, agent_number, created_at, terminated_at)
        SELECT 'seed-' || x, CASE WHEN x % 5 = 0 THEN 'review' ELSE 'work' END,
            CASE WHEN x % 10 = 1 THEN 'running' ELSE 'terminated' END,
            '/nonexistent/seed-' || x, 'grove/seed-' || x, 'main',
            '0123456789abcdef0123456789abcdef01234567', x % 500 + 1, 'seeded instance ' || x, x,
            strftime('%Y-%m-%dT%H:%M:%fZ', ?2 + x * 60, 'unixepoch'),
            CASE WHEN x % 10 = 1 THEN NULL
                 ELSE strftime('%Y-%m-%dT%H:%M:%fZ', ?2 + x * 60 + 3600, 'unixepoch') END
        FROM n""", (ninst, base - 60 * ninst))
    c.execute("""
        INSERT INTO grove_instance_relationships (parent_instance, child_instance,
            relationship_type, created_at)
        SELECT 'seed-' || (CAST(substr(id, 6) AS INTEGER) - 1), id, 'spawned_review', created_at
        FROM grove_instances WHERE type = 'review' AND id LIKE 'seed-%'""")
    c.execute("""
        WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5)
        INSERT INTO grove_checkpoints (instance_id, phase, status, data, message, sequence,
            created_at)
        SELECT i.id, CASE n.x WHEN 1 THEN 'plan' WHEN 5 THEN 'test' ELSE 'implement' END,
            'completed', '{"step":' || n.x || '}', 'seeded', n.x, i.created_at
        FROM grove_instances i, n WHERE i.id LIKE 'seed-%'""")
    c.execute("""
        WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?1)
        INSERT INTO grove_mcp_events (instance_id, tool_name, success, error_message, metadata,
            duration_ms, timestamp)
        SELECT CASE WHEN x % 10 = 0 THEN NULL ELSE 'seed-' || (x % ?2 + 1) END, """ + tool_case + """,
            CASE WHEN x % 20 = 7 THEN 0 ELSE 1 END,
            CASE WHEN x % 20 = 7 THEN 'seeded failure' END,
            '{"phase":"implement","n":' || x || '}', (x % 997) / 10.0,
            strftime('%Y-%m-%dT%H:%M:%fZ', ?3 + x * 2, 'unixepoch')
        FROM n""", (nevents, ninst, base))
    c.execute("COMMIT")
    counts = {t: c.execute("SELECT count(*) FROM " + t).fetchone()[0]
              for t in ("grove_instances", "grove_mcp_events", "grove_checkpoints",
                        "grove_instance_relationships")}
    c.close()
    return counts


def bench_queries(env, S):
    # get_instance answers the git status of a live worktree: one of q_files files
    repo = os.path.join(env.work, "queries")
    make_repo(env, repo, S["q_files"])
    env.run([env.args.grove, "init"], cwd=repo)
    inst = env.grove_session(repo, [("spawn_work_instance", {"launch": False, "prompt": "bench"})])
    iid = inst[0]["instance"]["id"]
    t0 = time.perf_counter()
    counts = seed(db_path(repo), S["q_instances"], S["q_events"])
    seed_s = time.perf_counter() - t0
    log("queries: seeded %s in %.1f s" % (counts, seed_s))
    mid = "seed-%d" % (S["q_instances"] // 2 + 1)
    since = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86400))
    kinds = [
        ("query_instances", "{status: running}", {"status": "running"}),
        ("query_instances", "{} (first page, 50)", {}),
        ("get_instance", "(with a live worktree of %d files)" % S["q_files"],
         {"instance_id": iid}),
        ("query_events", "{} (newest 50)", {}),
        ("query_events", "{instance_id}", {"instance_id": mid}),
        ("query_events", "{tool}", {"tool": "log_checkpoint"}),
        ("query_events", "{success: false, since}", {"success": False, "since": since}),
    ]
    cmd = ["--", env.args.grove, "serve"]
    err = env.errfile("queries")
    results = []
    errors = 0
    for tool, label, args in kinds:
        reqs = os.path.join(env.work, "q.jsonl")
        write_requests(reqs, [tool_req(tool, args)])
        env.client(["calls", "-e", err, reqs, "5"] + cmd, cwd=repo)  # warm-up
        p50, p99 = [], []
        for r in range(S["q_runs"]):
            env.settle()
            a = env.client(["calls", "-e", err, reqs, str(S["q_calls"])] + cmd, cwd=repo)
            errors += a["errors"] + (a["exit"] != 0)
            if a["errors"]:
                log("queries: %s %s: %s" % (tool, label, a["first_error"]))
            # the first call of a fresh server opens the repository and the database
            lat = a["lat_ms"][1:] if len(a["lat_ms"]) > 1 else a["lat_ms"]
            p50.append(percentile(lat, 50))
            p99.append(percentile(lat, 99))
        results.append({"tool": tool, "args": label, "p50_ms": figure(p50, "ms"),
                        "p99_ms": figure(p99, "ms")})
    changed = get_instance_changed(env, S, repo, iid)
    plans = json.loads(env.run([env.args.explain, db_path(repo), iid]).stdout)
    return {"rows": counts, "seed_seconds": round(seed_s, 2), "queries": results,
            "files": S["q_files"], "calls_per_run": S["q_calls"],
            "errors": errors + changed["errors"], "query_plans": plans,
            "get_instance_changed": changed}


def get_instance_changed(env, S, repo, iid):
    """get_instance when a file of its worktree changed just before each call (the answer
    kept between calls cannot be used: the full git status), against `git status
    --porcelain` of the same worktree after the same change, in turns; latency seen by a
    client in Python, one call at a time."""
    p = subprocess.Popen([env.args.grove, "serve"], cwd=repo, env=env.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    n = [0]

    def rpc(method, params):
        n[0] += 1
        p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": n[0], "method": method,
                                   "params": params}) + "\n").encode())
        p.stdin.flush()
        while True:
            r = json.loads(p.stdout.readline())
            if r.get("id") == n[0]:
                return r
    grove_ms, git_ms, errors, wt = [], [], 0, None
    try:
        rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                           "clientInfo": {"name": "bench", "version": "1"}})
        r = rpc("tools/call", {"name": "get_instance", "arguments": {"instance_id": iid}})
        wt = r["result"]["structuredContent"]["instance"]["worktree_path"]
        target = os.path.join(wt, "bench-changed.txt")
        calls = max(5, S["q_calls"] // 8)
        for run in range(S["q_runs"]):
            env.settle()
            g, t = [], []
            for i in range(calls):
                with open(target, "w") as f:
                    f.write("%d %d\n" % (run, i))
                t0 = time.perf_counter()
                r = rpc("tools/call", {"name": "get_instance", "arguments": {"instance_id": iid}})
                g.append((time.perf_counter() - t0) * 1000)
                res = r.get("result", {})
                if res.get("isError") or "bench-changed.txt" not in \
                        res.get("structuredContent", {}).get("git", {}).get("dirty_files", []):
                    errors += 1
                with open(target, "w") as f:
                    f.write("%d %d git\n" % (run, i))
                t0 = time.perf_counter()
                env.run(["git", "-C", wt, "--no-optional-locks", "status", "--porcelain"])
                t.append((time.perf_counter() - t0) * 1000)
            grove_ms.append(g)
            git_ms.append(t)
    finally:
        p.stdin.close()
        p.wait(timeout=60)
        if wt and os.path.exists(os.path.join(wt, "bench-changed.txt")):
            os.unlink(os.path.join(wt, "bench-changed.txt"))
    return {"calls_per_run": len(grove_ms[0]) if grove_ms else 0,
            "p50_ms": figure([percentile(g, 50) for g in grove_ms], "ms"),
            "p99_ms": figure([percentile(g, 99) for g in grove_ms], "ms"),
            "git_status_p50_ms": figure([percentile(t, 50) for t in git_ms], "ms"),
            "ratio_p50": figure([percentile(g, 50) / max(1e-9, percentile(t, 50))
                                 for g, t in zip(grove_ms, git_ms)], "×"),
            "errors": errors}


# ---- 4. worktree creation ------------------------------------------------------------


def drop_worktree(env, repo, path, branch):
    env.git(repo, "worktree", "remove", "--force", path, check=False)
    if os.path.exists(path):
        shutil.rmtree(path)
    env.git(repo, "worktree", "prune", check=False)
    env.git(repo, "branch", "-D", branch, check=False)


def timed(env, argv, cwd=None, shell=False):
    subprocess.run(["sync"])
    t0 = time.perf_counter()
    r = subprocess.run(argv, cwd=cwd, env=env.env, shell=shell, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    ms = (time.perf_counter() - t0) * 1000
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (argv, r.stderr.decode(errors="replace")))
    return ms


def bench_worktree(env, S):
    repo = os.path.join(env.work, "wt-repo")
    t0 = time.perf_counter()
    info = make_repo(env, repo, S["wt_files"])
    log("worktree: repository of %d files, %.1f MB in %.1f s" % (
        info["files"], info["bytes"] / 1e6, time.perf_counter() - t0))
    return worktree_race(env, repo, info, "wt", S["wt_workers"], S["wt_runs"], archive=True)


def worktree_race(env, repo, info, tag, workers, runs, archive, out_dir=None):
    """`spawn_work_instance` (launch: false) against `git -c checkout.workers=N worktree add -b`
    for each N in `workers` (and `git archive | tar -x` when `archive`), interleaved, `sync`
    before each, one warm-up round; ratios against the git worker count with the best median.
    The worktrees of both go to `out_dir` (default: the work folder)."""
    env.run([env.args.grove, "init"], cwd=repo)
    wts = os.path.join(out_dir or env.work, tag + "-out")
    os.makedirs(wts)
    grove_env = dict(env.env, GROVE_WORKTREES=os.path.join(wts, "grove"))
    reqs = os.path.join(env.work, tag + ".jsonl")
    # call 1 warms the server up (opens repository and database); call 2 is timed
    write_requests(reqs, [tool_req("query_instances", {"limit": 1}),
                          tool_req("spawn_work_instance", {"launch": False, "prompt": "bench"})])
    names = ["grove"] + ["git_w%d" % w for w in workers] + (["archive"] if archive else [])
    times = {n: [] for n in names}
    seq = [0]

    def run_one(name):
        seq[0] += 1
        if name == "grove":
            subprocess.run(["sync"])
            a = env.client(["calls", "-e", env.errfile(tag), reqs, "2", "--", env.args.grove,
                            "serve"], cwd=repo, env=grove_env)
            if a["errors"]:
                raise RuntimeError("spawn_work_instance failed: " + a["first_error"])
            ms = a["lat_ms"][1]
            # the instance is work-aN; remove it the same way as git's
            for d in os.listdir(os.path.join(wts, "grove")):
                drop_worktree(env, repo, os.path.join(wts, "grove", d), "grove/" + d)
            return ms
        path = os.path.join(wts, "%s-%d" % (name, seq[0]))
        branch = "bench/%s-%d" % (name, seq[0])
        if name == "archive":
            os.makedirs(path)
            ms = timed(env, "git archive main | tar -x -C '%s'" % path, cwd=repo, shell=True)
            shutil.rmtree(path)
            return ms
        w = int(name.split("_w")[1])
        ms = timed(env, ["git", "-c", "checkout.workers=%d" % w, "worktree", "add", "-q", "-b",
                         branch, path, "main"], cwd=repo)
        drop_worktree(env, repo, path, branch)
        return ms

    for name in names:  # warm-up: object database in the page cache
        run_one(name)
    for r in range(runs):
        env.settle()
        order = names[r % len(names):] + names[:r % len(names)]
        per = {}
        for name in order:
            per[name] = run_one(name)
        for name in names:
            times[name].append(per[name])
        log("%s round %d: %s" % (tag, r + 1, ", ".join(
            "%s %.0f ms" % (n, per[n]) for n in names)))
    best = min(("git_w%d" % w for w in workers),
               key=lambda n: percentile(times[n], 50))
    out = {"repository": info, "workers_tried": workers, "best_git": best,
           "ms": {n: figure(times[n], "ms") for n in names}}
    out["grove_over_best_git"] = figure(
        [g / b for g, b in zip(times["grove"], times[best])], "×")
    if "git_w1" in times:
        out["grove_over_git_w1"] = figure(
            [g / b for g, b in zip(times["grove"], times["git_w1"])], "×")
    if archive:
        out["grove_over_archive"] = figure(
            [g / b for g, b in zip(times["grove"], times["archive"])], "×")
    return out


# ---- 4a. big repositories -----------------------------------------------------------


def real_tree_source(env):
    """A real source tree from Debian: the linux-source-6.1 tarball, from --real-tree (a .deb or
    .tar.xz) or from the installed package; None when there is neither."""
    cand = [env.args.real_tree] if env.args.real_tree else []
    cand += sorted(glob.glob("/usr/src/linux-source-*.tar.xz"), reverse=True)
    for c in cand:
        if c and os.path.isfile(c):
            return os.path.abspath(c)
    return None


def make_real_repo(env, src, path):
    """The tree of `src` (a Debian linux-source .deb or its .tar.xz), committed once with fixed
    dates (the same commit every time) and packed like a clone's objects (one pack, no deltas:
    `git repack --window=0`)."""
    unpack = path + ".src"
    os.makedirs(unpack)
    tarball = src
    if src.endswith(".deb"):
        env.run(["dpkg-deb", "-x", src, unpack + "/deb"])
        found = glob.glob(unpack + "/deb/usr/src/linux-source-*.tar.xz")
        if not found:
            raise RuntimeError("no linux-source tarball in " + src)
        tarball = found[0]
    env.run(["tar", "-xJf", tarball, "-C", unpack])
    tops = [d for d in os.listdir(unpack) if d != "deb"]
    os.rename(os.path.join(unpack, tops[0]), path)
    shutil.rmtree(unpack)
    env.run(["git", "init", "-q", "-b", "main", path])
    env.git(path, "config", "user.name", "Bench")
    env.git(path, "config", "user.email", "bench@example.com")
    env.git(path, "add", "-A", "-f")  # Debian's tarball has a .gitignore of "/*"
    denv = dict(env.env, GIT_AUTHOR_DATE="1767225600 +0000",
                GIT_COMMITTER_DATE="1767225600 +0000")
    env.git(path, "commit", "-q", "-m", "real tree", env=denv)
    env.git(path, "repack", "-a", "-d", "-q", "--window=0")
    env.git(path, "prune")
    files = env.git(path, "ls-files").stdout.count(b"\n")
    size = sum(int(x.split()[3]) for x in env.git(
        path, "ls-tree", "-r", "-l", "HEAD").stdout.decode().splitlines()
        if x.split()[3] != "-")
    return {"files": files, "bytes": size, "source": os.path.basename(src),
            "commit": env.git(path, "rev-parse", "HEAD").stdout.decode().strip()}


def xfs_mount(env, tag):
    """A 4 GiB sparse xfs image with reflink (copy-on-write clones), loop-mounted in the work
    folder: (mount point, image), or None (said in the log) when not root, without mkfs.xfs
    (xfsprogs) or when the loop mount fails."""
    if os.geteuid() != 0 or not shutil.which("mkfs.xfs"):
        log("bigrepo: no xfs figures (needs root and mkfs.xfs from xfsprogs)")
        return None
    img = os.path.join(env.work, tag + ".img")
    mnt = os.path.join(env.work, tag + "-mnt")
    os.makedirs(mnt)
    for argv in (["truncate", "-s", "4G", img], ["mkfs.xfs", "-q", "-m", "reflink=1", img],
                 ["mount", "-o", "loop", img, mnt]):
        r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            log("bigrepo: no xfs figures (%s: %s)" % (argv[0], r.stderr.decode(errors="replace")
                                                      .strip()))
            os.rmdir(mnt)
            if os.path.exists(img):
                os.unlink(img)
            return None
    return mnt, img


def xfs_unmount(mnt, img):
    subprocess.run(["sync"])
    if subprocess.run(["umount", mnt]).returncode != 0:
        subprocess.run(["umount", "-l", mnt])
    os.rmdir(mnt)
    os.unlink(img)


def bench_bigrepo(env, S):
    """Worktree creation on big trees: a generated repository of big_files files (make_repo),
    and a real tree from a Debian package when one is at hand (see real_tree_source)."""
    out = {}
    repo = os.path.join(env.work, "big-repo")
    t0 = time.perf_counter()
    info = make_repo(env, repo, S["big_files"], seed=20260517)
    log("bigrepo: repository of %d files, %.1f MB in %.1f s" % (
        info["files"], info["bytes"] / 1e6, time.perf_counter() - t0))
    out["generated"] = worktree_race(env, repo, info, "big", S["big_workers"], S["big_runs"],
                                     archive=False)
    shutil.rmtree(repo, ignore_errors=True)
    # The same on a file system with copy-on-write clones: grove clones the unchanged files
    # of the clean main checkout (FICLONE) instead of writing them; git writes them.
    out["xfs"] = None
    m = xfs_mount(env, "big-xfs")
    if m:
        try:
            repo = os.path.join(m[0], "big-repo")
            info = make_repo(env, repo, S["big_files"], seed=20260517)
            info["fs"] = "xfs (reflink)"
            # The checkout as a user has it: `git reset --hard` wrote the index in the same second
            # as the last files (racily clean entries, which grove never clones), and the first
            # `git status` after that second writes it again. git's side does not read it.
            time.sleep(1.1)
            env.git(repo, "status", "--porcelain")
            out["xfs"] = worktree_race(env, repo, info, "bigxfs", S["big_workers"],
                                       S["big_runs"], archive=False, out_dir=m[0])
        finally:
            xfs_unmount(*m)
    src = real_tree_source(env) if not env.args.quick else None
    if src:
        repo = os.path.join(env.work, "real-repo")
        t0 = time.perf_counter()
        info = make_real_repo(env, src, repo)
        log("bigrepo: real tree %s, %d files, %.1f MB in %.1f s" % (
            info["source"], info["files"], info["bytes"] / 1e6, time.perf_counter() - t0))
        out["real"] = worktree_race(env, repo, info, "real", S["big_workers"], S["big_runs"],
                                    archive=False)
        shutil.rmtree(repo, ignore_errors=True)
    else:
        out["real"] = None
        log("bigrepo: no real tree (apt-get download linux-source-6.1, then --real-tree FILE)")
    return out


# ---- 4b. get_diff ------------------------------------------------------------------


def bench_diff(env, S):
    """get_diff against `git diff --stat -p <merge base>` on a repository of diff_files files:
    an instance that modified 5% of the files (an edit in the middle, a line appended), renamed
    1% with an edit, deleted and added 1% each, in two commits, then left 1% modified
    uncommitted and a few untracked files, while main moved on. Both ways: with the worktree
    (grove's default; git's side leaves out the untracked files, which it does not show) and
    commits only (`git diff --stat -p <merge base> <head>`)."""
    repo = os.path.join(env.work, "diff-repo")
    info = make_repo(env, repo, S["diff_files"], seed=20260502)
    env.run([env.args.grove, "init"], cwd=repo)
    inst = env.grove_session(repo, [("spawn_work_instance", {"launch": False})])[0]["instance"]
    wt = inst["worktree_path"]
    rng = random.Random(5)
    tracked = sorted(env.git(wt, "ls-files").stdout.decode().split("\n")[:-1])
    picks = rng.sample(tracked, max(6, len(tracked) // 10))
    n = max(1, len(tracked) // 100)
    modified, renamed, deleted, dirty = (picks[:5 * n], picks[5 * n:6 * n], picks[6 * n:7 * n],
                                         picks[7 * n:8 * n])

    def edit(rel, tag):
        full = os.path.join(wt, rel)
        with open(full, "rb") as f:
            lines = f.read().split(b"\n")
        lines[len(lines) // 2] = b"/* edited by " + tag + b" */"
        with open(full, "wb") as f:
            f.write(b"\n".join(lines) + b"appended line\n")

    for rel in modified:
        edit(rel, b"commit one")
    env.git(wt, "commit", "-qam", "modify")
    for i, rel in enumerate(renamed):
        env.git(wt, "mv", rel, rel + ".moved")
        edit(rel + ".moved", b"rename")
    for rel in deleted:
        env.git(wt, "rm", "-q", rel)
    for i in range(n):
        with open(os.path.join(wt, "added-%d.txt" % i), "w") as f:
            f.write("".join("new line %d\n" % k for k in range(40)))
    env.git(wt, "add", "-A")
    env.git(wt, "commit", "-qm", "rename delete add")
    for rel in dirty:
        edit(rel, b"uncommitted")
    for i in range(5):
        with open(os.path.join(wt, "untracked-%d.txt" % i), "w") as f:
            f.write("untracked\n")
    other = [t for t in tracked if t not in picks][:20]
    for rel in other:  # main moves on
        with open(os.path.join(repo, rel), "a") as f:
            f.write("on main\n")
    env.git(repo, "commit", "-qam", "main moves")
    head = env.git(wt, "rev-parse", "HEAD").stdout.decode().strip()
    mb = env.git(repo, "merge-base", "main", head).stdout.decode().strip()
    reqs = {}
    for mode, uncommitted in (("worktree", True), ("commits", False)):
        reqs[mode] = os.path.join(env.work, "diff-%s.jsonl" % mode)
        # call 1 warms the server up (opens repository and database); call 2 is timed
        write_requests(reqs[mode], [
            tool_req("query_instances", {"limit": 1}),
            tool_req("get_diff", {"instance_id": inst["id"], "include_uncommitted": uncommitted,
                                  "max_bytes": 4194304})])
    git_cmd = {"worktree": ["git", "diff", "--stat", "-p", mb],
               "commits": ["git", "diff", "--stat", "-p", mb, head]}
    patch_bytes = {m: len(env.run(git_cmd[m], cwd=wt).stdout) for m in git_cmd}
    times = {m: {"grove": [], "git": []} for m in git_cmd}

    def run_one(mode, who):
        if who == "git":
            return timed(env, git_cmd[mode], cwd=wt)
        subprocess.run(["sync"])  # as timed() does before git's run
        a = env.client(["calls", "-e", env.errfile("diff"), reqs[mode], "2", "--",
                        env.args.grove, "serve"], cwd=repo)
        if a["errors"]:
            raise RuntimeError("get_diff failed: " + a["first_error"])
        return a["lat_ms"][1]

    for mode in git_cmd:  # warm-up: objects and files in the page cache
        for who in ("grove", "git"):
            run_one(mode, who)
    for r in range(S["diff_runs"]):
        env.settle()
        for mode in git_cmd:
            order = ("grove", "git") if r % 2 == 0 else ("git", "grove")
            for who in order:
                times[mode][who].append(run_one(mode, who))
    out = {"repository": info, "changed": {"modified": len(modified), "renamed": len(renamed),
                                           "deleted": len(deleted), "added": n,
                                           "uncommitted": len(dirty), "untracked": 5},
           "git_output_bytes": patch_bytes}
    for mode in git_cmd:
        out[mode] = {"grove_ms": figure(times[mode]["grove"], "ms"),
                     "git_ms": figure(times[mode]["git"], "ms"),
                     "grove_over_git": figure([g / b for g, b in zip(times[mode]["grove"],
                                                                      times[mode]["git"])], "×")}
    return out


# ---- land ------------------------------------------------------------------------------


def bench_land(env, S):
    """land_instance (squash, into the checked-out main) against `git merge --squash` + `git
    commit` in the same checkout, on a repository of land_files files. Each run makes one
    instance (2% of the files edited, in two commits), then main moves on (a commit on other
    files, so that each land is a three-way merge), then git squashes the instance's branch
    and grove lands the same instance from that same state: main, its index and its files
    are put back (`git reset --hard`) between the two. The order alternates from run to run.
    Both sides start after a `sync` (the setup's and the other side's writes are on disk
    before the clock starts); git's time includes starting its processes, grove's is the call
    in a server that answered one call before (what an agent sees)."""
    repo = os.path.join(env.work, "land-repo")
    info = make_repo(env, repo, S["land_files"], seed=20260503)
    env.run([env.args.grove, "init"], cwd=repo)
    tracked = sorted(env.git(repo, "ls-files").stdout.decode().split("\n")[:-1])
    rng = random.Random(7)
    per = max(1, len(tracked) // 50)
    moves = max(1, per // 10)
    pool = rng.sample(tracked, min(len(tracked), (per + moves) * S["land_runs"]))
    times = {"grove": [], "git": []}

    def work(wt, files, tag):
        half = len(files) // 2
        for part, chunk in (("one", files[:half]), ("two", files[half:])):
            if not chunk:
                continue
            for rel in chunk:
                with open(os.path.join(wt, rel), "a") as f:
                    f.write("/* %s */\n" % tag)
            env.git(wt, "commit", "-qam", "%s %s" % (tag, part))

    for r in range(S["land_runs"]):
        a = env.grove_session(repo, [("spawn_work_instance", {"launch": False})])[0]["instance"]
        files = pool[(per + moves) * r:(per + moves) * (r + 1)]
        work(a["worktree_path"], files[:per], "a%d" % r)
        for rel in files[per:]:  # main moves on
            with open(os.path.join(repo, rel), "a") as f:
                f.write("/* main %d */\n" % r)
        env.git(repo, "commit", "-qam", "main moves %d" % r)
        start = env.git(repo, "rev-parse", "HEAD").stdout.decode().strip()
        req = os.path.join(env.work, "land-%d.jsonl" % r)
        # call 1 warms the server up (opens repository and database); call 2 is timed
        write_requests(req, [tool_req("query_instances", {"limit": 1}),
                             tool_req("land_instance", {"instance_id": a["id"],
                                                        "message": "land a%d" % r})])
        env.settle()
        order = ("git", "grove") if r % 2 == 0 else ("grove", "git")
        for who in order:
            if who == "git":
                times["git"].append(timed(
                    env, "git merge -q --squash %s && git commit -qm 'squash a%d'"
                    % (a["branch_name"], r), cwd=repo, shell=True))
            else:
                # As timed() does before git's run: the writes of the setup (and of the other
                # side's land) reach the disk before, not during, the timed call.
                subprocess.run(["sync"])
                res = env.client(["calls", "-e", env.errfile("land"), req, "2", "--",
                                  env.args.grove, "serve"], cwd=repo)
                if res["errors"]:
                    raise RuntimeError("land_instance failed: " + res["first_error"])
                times["grove"].append(res["lat_ms"][1])
            if env.git(repo, "status", "--porcelain").stdout.strip():
                raise RuntimeError("the main checkout is not clean after the %s land" % who)
            if env.git(repo, "rev-parse", "HEAD^").stdout.decode().strip() != start:
                raise RuntimeError("the %s land did not make one commit on main" % who)
            if who == order[0]:  # the same starting state for the other side
                env.git(repo, "reset", "-q", "--hard", start)
    return {"repository": info, "files_per_land": per, "commits_per_land": 2 if per > 1 else 1,
            "main_moved_files": moves,
            "grove_ms": figure(times["grove"], "ms"), "git_ms": figure(times["git"], "ms"),
            "grove_over_git": figure([g / t for g, t in zip(times["grove"], times["git"])],
                                     "×")}


# ---- 5. many agents ------------------------------------------------------------------


def bench_agents(env, S):
    repo = small_repo(env, "agents")
    n = S["agents"]
    insts = env.grove_session(repo, [("spawn_work_instance", {"launch": False, "prompt": "a%d" % i})
                                     for i in range(n)])
    ids = [x["instance"]["id"] for x in insts]
    reqfiles = []
    for i, iid in enumerate(ids):
        p = os.path.join(env.work, "agent%d.jsonl" % i)
        write_requests(p, [tool_req("log_checkpoint", checkpoint_args(iid))])
        reqfiles.append(p)
    rates, p99s, p50s, errs = [], [], [], 0
    for r in range(S["agent_runs"]):
        env.settle()
        procs = []
        for i in range(n):
            procs.append(subprocess.Popen(
                [env.args.client, "calls", "-e", env.errfile("agents"), "--barrier", reqfiles[i],
                 str(S["agent_calls"]), "--", env.args.grove, "serve"],
                cwd=repo, env=env.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE))
        for p in procs:
            if p.stdout.readline().strip() != b"ready":
                raise RuntimeError("an agent did not start")
        for p in procs:
            p.stdin.write(b"go\n")
            p.stdin.flush()
        res = []
        for p in procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                raise RuntimeError("bench-client failed")
            res.append(json.loads(out))
        total = sum(x["n"] for x in res)
        wall = max(x["t_end_ms"] for x in res) - min(x["t_start_ms"] for x in res)
        lat = [v for x in res for v in x["lat_ms"]]
        rates.append(total * 1000.0 / wall)
        p99s.append(percentile(lat, 99))
        p50s.append(percentile(lat, 50))
        e = sum(x["errors"] + (x["exit"] != 0) for x in res)
        errs += e
        if e:
            log("agents: errors: " + next(x["first_error"] for x in res if x["errors"]))
    return {"agents": n, "calls_per_agent": S["agent_calls"],
            "total_per_s": figure(rates, "/s"), "p50_ms": figure(p50s, "ms"),
            "p99_ms": figure(p99s, "ms"), "errors": errs}


# ---- 6. memory ---------------------------------------------------------------------------


def bench_memory(env, S):
    repo = small_repo(env, "memory")
    inst = env.grove_session(repo, [("spawn_work_instance", {"launch": False, "prompt": "m"})])
    iid = inst[0]["instance"]["id"]
    reqs = os.path.join(env.work, "mem.jsonl")
    write_requests(reqs, [
        tool_req("log_checkpoint", checkpoint_args(iid)),
        tool_req("get_checkpoint", {"instance_id": iid}),
        tool_req("query_events", {"limit": 5}),
        tool_req("query_instances", {"limit": 5}),
        tool_req("get_instance", {"instance_id": iid}),
    ])
    lo, hi = S["mem_points"]
    at_lo, at_hi, growth, anon, filed, errs = [], [], [], [], [], 0
    for r in range(S["mem_runs"]):
        env.settle()
        a = env.client(["calls", "-e", env.errfile("memory"), "--pipeline", "--rss", str(lo),
                        "--rss", str(hi), reqs, str(hi), "--", env.args.grove, "serve"], cwd=repo)
        errs += a["errors"] + (a["exit"] != 0)
        if a["errors"]:
            log("memory: errors: " + a["first_error"])
        hwm = {p["calls"]: p["hwm_kb"] for p in a["rss"]}
        at_lo.append(hwm[lo] / 1024.0)
        at_hi.append(hwm[hi] / 1024.0)
        growth.append((hwm[hi] - hwm[lo]) / 1024.0)
        end = [p for p in a["rss"] if p["calls"] == hi][-1]
        anon.append(end["anon_kb"] / 1024.0)
        filed.append(end["file_kb"] / 1024.0)
    return {"calls": [lo, hi],
            "mix": "log_checkpoint, get_checkpoint, query_events, query_instances, get_instance",
            "peak_rss_mb_at_%d" % lo: figure(at_lo, "MB"),
            "peak_rss_mb_at_%d" % hi: figure(at_hi, "MB"),
            "growth_mb": figure(growth, "MB"),
            # what the peak is made of, at the end: private memory and pages of mapped files
            # (shared libraries; the page cache holds them once for every process)
            "private_anon_mb_at_end": figure(anon, "MB"),
            "file_backed_mb_at_end": figure(filed, "MB"), "errors": errs}


# ---- 7. startup reconciliation --------------------------------------------------------------


def seed_reconcile(db, ninst, nrunning, existing):
    """ninst instances, nrunning of them 'running' (the rest terminated). Of the running
    ones, every other has a worktree path that exists (`existing`, a list of folders) and
    the others a path that does not; a quarter have a recorded agent (a tmux session name
    and a pid) that is gone, as after a reboot or a crash, which the liveness
    reconciliation of the first read marks terminated."""
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("BEGIN IMMEDIATE")
    c.execute("""
        WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < ?1)
        INSERT INTO grove_instances (id, type, status, worktree_path, branch_name, base_branch,
            base_commit, issue_number, prompt, agent_number, tmux_session, agent_pid,
            created_at, terminated_at)
        SELECT 'rec-' || x, 'work', CASE WHEN x <= ?2 THEN 'running' ELSE 'terminated' END,
            CASE WHEN x <= ?2 AND x % 2 = 0 THEN ?3 || '/rec-' || x
                 ELSE '/nonexistent/rec-' || x END,
            'grove/rec-' || x, 'main', '0123456789abcdef0123456789abcdef01234567',
            x % 500 + 1, 'seeded instance ' || x, x,
            CASE WHEN x <= ?2 AND x % 4 = 1 THEN 'grove-rec-' || x END,
            CASE WHEN x <= ?2 AND x % 4 = 1 THEN 4194000 + x % 300 END,
            strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + x * 60, 'unixepoch'),
            CASE WHEN x <= ?2 THEN NULL
                 ELSE strftime('%Y-%m-%dT%H:%M:%fZ', 1767225600 + x * 60 + 3600, 'unixepoch')
            END
        FROM n""", (ninst, nrunning, existing))
    c.execute("COMMIT")
    counts = dict(c.execute("SELECT status, count(*) FROM grove_instances GROUP BY status"))
    counts["running_with_agent"] = c.execute(
        "SELECT count(*) FROM grove_instances WHERE status = 'running' AND "
        "agent_pid IS NOT NULL").fetchone()[0]
    c.close()
    for x in range(2, nrunning + 1, 2):
        os.makedirs(os.path.join(existing, "rec-%d" % x), exist_ok=True)
    return counts


def bench_reconcile(env, S):
    """Startup on a database with many instances vs an empty one: process start to the
    `initialize` response, and to the first tool result (`query_instances` {limit: 1},
    whose liveness reconciliation reads the running instances that have an agent). The
    big database is restored before every start, so that each first call finds the dead
    agents still to be marked (the work a server does after a crash or a reboot); "settled"
    is the same database once reconciled."""
    empty = small_repo(env, "reconcile-empty")
    big = small_repo(env, "reconcile-big")
    folders = os.path.join(env.work, "reconcile-big.worktrees")
    os.makedirs(folders, exist_ok=True)
    counts = seed_reconcile(db_path(big), S["rec_instances"], S["rec_running"], folders)
    log("reconcile: seeded %s" % counts)
    pristine = db_path(big) + ".pristine"
    shutil.copyfile(db_path(big), pristine)
    first = os.path.join(env.work, "reconcile-call.jsonl")
    write_requests(first, [tool_req("query_instances", {"limit": 1})])
    cmd = ["--", env.args.grove, "serve"]
    err = env.errfile("reconcile")

    def restore():
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db_path(big) + suffix):
                os.unlink(db_path(big) + suffix)
        shutil.copyfile(pristine, db_path(big))

    def start(repo, fresh):
        """One start: (initialize ms, first call ms, errors)."""
        if fresh:
            restore()
        a = env.client(["start", "-e", err, "--call", first, "1"] + cmd, cwd=repo)
        return a["ms"][0], a["call_ms"][0], a["errors"]

    env.client(["start", "2"] + cmd, cwd=empty)  # warm-up: page cache, dynamic loader
    init_e, init_b, call_e, call_b, call_s, r_init, r_call, errors = [], [], [], [], [], [], [], 0
    marked = None
    for r in range(S["rec_runs"]):
        env.settle()
        ie, ib, ce, cb, cs = [], [], [], [], []
        for k in range(S["rec_starts"]):
            i, c, e = start(empty, False)
            ie.append(i)
            ce.append(c)
            errors += e
            i, c, e = start(big, True)
            ib.append(i)
            cb.append(c)
            errors += e
            if marked is None:
                marked = sqlite3.connect(db_path(big)).execute(
                    "SELECT count(*) FROM grove_instances WHERE status = 'running'").fetchone()[0]
            i, c, e = start(big, False)  # reconciled by the start before
            cs.append(c)
            errors += e
        init_e.append(percentile(ie, 50))
        init_b.append(percentile(ib, 50))
        call_e.append(percentile(ce, 50))
        call_b.append(percentile(cb, 50))
        call_s.append(percentile(cs, 50))
        r_init.append(init_b[-1] / init_e[-1])
        r_call.append(call_b[-1] / call_e[-1])
    return {
        "rows": counts,
        "running_after_first_read": marked,
        "empty_initialize_ms": figure(init_e, "ms"),
        "big_initialize_ms": figure(init_b, "ms"),
        "big_over_empty_initialize": figure(r_init, "×"),
        "empty_first_call_ms": figure(call_e, "ms"),
        "big_first_call_ms": figure(call_b, "ms"),
        "big_settled_first_call_ms": figure(call_s, "ms"),
        "big_over_empty_first_call": figure(r_call, "×"),
        "starts_per_run": S["rec_starts"],
        "errors": errors,
    }


# ---- machine, goals, table ---------------------------------------------------------------


# ---- 8. conflicts ---------------------------------------------------------------------


def bench_conflicts(env, S):
    """get_conflicts over every pair of running instances: a repository of cf_files files,
    cf_instances instances each cf_commits commits ahead of main (one file a commit). All of
    them change shared.txt (each its own line: every pair overlaps, and is merged), the first
    half the same line of hot.txt (those pairs conflict); main then moves on by two commits,
    one of them against hot.txt (every instance is behind, the first half conflicts)."""
    repo = os.path.join(env.work, "conflicts")
    info = make_repo(env, repo, S["cf_files"], seed=14)
    n, k = S["cf_instances"], S["cf_commits"]
    with open(os.path.join(repo, "shared.txt"), "w") as f:
        f.write("".join("line %d\n" % i for i in range(10 * n + 10)))
    with open(os.path.join(repo, "hot.txt"), "w") as f:
        f.write("".join("hot %d\n" % i for i in range(10)))
    env.git(repo, "add", "shared.txt", "hot.txt")
    env.git(repo, "commit", "-qm", "shared files")
    env.run([env.args.grove, "init"], cwd=repo)
    files = sorted(env.git(repo, "ls-files").stdout.decode().split())
    files = [x for x in files if x not in ("shared.txt", "hot.txt")]
    made = env.grove_session(repo, [("spawn_work_instance", {"launch": False, "prompt": "p%d" % i})
                                    for i in range(n)])
    ids = [m["instance"]["id"] for m in made]
    for i, m in enumerate(made):
        wt = m["instance"]["worktree_path"]
        script = ["set -e"]
        for c in range(k):
            if c == 0:
                script.append("sed -i '%ds/.*/instance %d/' shared.txt" % (10 * i + 5, i))
            elif c == 1 and i < max(1, n // 2):
                script.append("sed -i '5s/.*/hot from %d/' hot.txt" % i)
            else:
                script.append("echo 'change %d of %d' >> '%s'" % (c, i, files[(i * k + c) % len(files)]))
            script.append("git commit -qam 'c%d'" % c)
        env.run(["bash", "-c", "\n".join(script)], cwd=wt)
    env.run(["bash", "-ec", "sed -i '5s/.*/hot on main/' hot.txt && git commit -qam m1 && "
             "echo more >> '%s' && git commit -qam m2" % files[-1]], cwd=repo)
    check = env.grove_session(repo, [("get_conflicts", {})])[0]
    npairs = len(check["pairs"])
    nconf = sum(1 for p in check["pairs"] if p["conflicting_files"])
    log("conflicts: %d instances, %d pairs overlap, %d conflict, %d behind main" % (
        n, npairs, nconf, len(check["with_base"])))
    cmd = ["--", env.args.grove, "serve"]
    err = env.errfile("conflicts")
    results = {}
    errors = 0
    for name, tool, args in [("get_conflicts_all_pairs", "get_conflicts", {}),
                             ("get_conflicts_one", "get_conflicts", {"instance_id": ids[0]}),
                             ("get_instance", "get_instance", {"instance_id": ids[0]})]:
        reqs = os.path.join(env.work, "cf.jsonl")
        write_requests(reqs, [tool_req(tool, args)])
        env.client(["calls", "-e", err, reqs, "2"] + cmd, cwd=repo)  # warm-up
        p50, p99 = [], []
        for r in range(S["cf_runs"]):
            env.settle()
            a = env.client(["calls", "-e", err, reqs, str(S["cf_calls"])] + cmd, cwd=repo)
            errors += a["errors"] + (a["exit"] != 0)
            if a["errors"]:
                log("conflicts: %s: %s" % (name, a["first_error"]))
            lat = a["lat_ms"][1:] if len(a["lat_ms"]) > 1 else a["lat_ms"]
            p50.append(percentile(lat, 50))
            p99.append(percentile(lat, 99))
        results[name] = {"p50_ms": figure(p50, "ms"), "p99_ms": figure(p99, "ms")}
    return {"repository": info, "instances": n, "commits_each": k, "pairs": n * (n - 1) // 2,
            "pairs_overlapping": npairs, "pairs_conflicting": nconf,
            "behind_base": len(check["with_base"]), "calls_per_run": S["cf_calls"],
            "errors": errors, "ms": results}


# ---- agents: the hook and the output (issue 15) ------------------------------------------


def bench_hook(env, S):
    """`grove hook STATE` from process start to exit (it runs before and after every tool call
    of every agent), on a database of hook_instances instances: a running instance with an
    agent gets Claude Code's PreToolUse JSON on stdin. Half the calls change the state
    (working/idle alternating), half do not; each records an event."""
    repo = small_repo(env, "hook")
    db = db_path(repo)
    rows = seed(db, S["hook_instances"], 0)
    c = sqlite3.connect(db)
    c.execute("UPDATE grove_instances SET agent_profile = 'claude', agent_state = 'working',"
              " tmux_session = 'grove-seed-1' WHERE id = 'seed-1'")
    c.commit()
    c.close()
    payload = json.dumps({"session_id": "0b6f3f0e-8a4c-4d5e-9f00-112233445566",
                          "transcript_path": "/tmp/t.jsonl", "cwd": repo,
                          "hook_event_name": "PreToolUse", "tool_name": "Bash",
                          "tool_input": {"command": "make test"}}).encode()
    def measure(calls):
        lat, bad = [], 0
        for i in range(calls):
            argv = [env.args.grove, "hook", "working" if i % 2 else "idle", "--instance",
                    "seed-1", "--db", db]
            t0 = time.perf_counter()
            p = subprocess.run(argv, input=payload, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env.env)
            lat.append((time.perf_counter() - t0) * 1000.0)
            bad += p.returncode != 0 or bool(p.stderr) or bool(p.stdout)
        return lat, bad

    # As when agents run: their own `grove serve` processes hold the database open, so a
    # hook is never its last connection. A held read connection stands for them.
    p50s, p99s, alone50, alone99, errs = [], [], [], [], 0
    for r in range(S["hook_runs"]):
        held = sqlite3.connect(db)
        held.execute("SELECT count(*) FROM grove_instances").fetchone()
        env.settle()
        lat, bad = measure(S["hook_calls"])
        held.close()
        errs += bad
        p50s.append(percentile(lat, 50))
        p99s.append(percentile(lat, 99))
        # alone: closing, the hook checkpoints the WAL into the database (fsyncs)
        env.settle()
        lat, bad = measure(max(2, S["hook_calls"] // 3))
        errs += bad
        alone50.append(percentile(lat, 50))
        alone99.append(percentile(lat, 99))
    c = sqlite3.connect(db)
    recorded = c.execute("SELECT count(*) FROM grove_mcp_events WHERE instance_id = 'seed-1'"
                         " AND tool_name = 'hook:PreToolUse'").fetchone()[0]
    c.close()
    if recorded != (S["hook_calls"] + max(2, S["hook_calls"] // 3)) * S["hook_runs"]:
        errs += 1
    return {"instances": rows["grove_instances"], "calls": S["hook_calls"],
            "p50_ms": figure(p50s, "ms"), "p99_ms": figure(p99s, "ms"),
            "alone_p50_ms": figure(alone50, "ms"), "alone_p99_ms": figure(alone99, "ms"),
            "errors": errs}


def bench_output(env, S):
    """read_agent_output of out_lines lines: an agent in tmux (grove's own server, a private
    socket) printed out_lines + 500 numbered lines; pipelined calls through one server."""
    repo = small_repo(env, "output")
    sock = "grove-bench-%d" % os.getpid()
    benv = dict(env.env, GROVE_TMUX_SOCKET=sock, GROVE_AGENT_COMMAND=json.dumps(
        ["sh", "-c", "seq 1 %d; sleep 600" % (S["out_lines"] + 500)]))
    try:
        inst = env.run([env.args.grove, "call", "spawn_work_instance", '{"prompt": "out"}'],
                       cwd=repo, env=benv)
        iid = json.loads(inst.stdout)["instance"]["id"]
        args = {"instance_id": iid, "lines": S["out_lines"]}
        for _ in range(100):  # until the agent has printed everything
            r = env.run([env.args.grove, "call", "read_agent_output", json.dumps(args)],
                        cwd=repo, env=benv)
            if json.loads(r.stdout)["text"].endswith(str(S["out_lines"] + 500)):
                break
            time.sleep(0.1)
        req = os.path.join(env.work, "output.jsonl")
        write_requests(req, [tool_req("read_agent_output", args)])
        p50s, p99s, errs = [], [], 0
        for r in range(S["out_runs"]):
            env.settle()
            res = env.client(["calls", "-e", env.errfile("output"), req, str(S["out_calls"]),
                              "--", env.args.grove, "serve"], cwd=repo, env=benv)
            p50s.append(percentile(res["lat_ms"], 50))
            p99s.append(percentile(res["lat_ms"], 99))
            errs += res["errors"]
        return {"lines": S["out_lines"], "calls": S["out_calls"], "p50_ms": figure(p50s, "ms"),
                "p99_ms": figure(p99s, "ms"), "errors": errs}
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def bench_subscriptions(env, S):
    """An idle `grove serve` with sub_count resource subscriptions (one per instance, each
    looked at every second: the database row, the branch head, and one tmux call for the
    agents' states): its CPU share over sub_seconds, from /proc."""
    repo = small_repo(env, "subs")
    n = S["sub_count"]
    insts = env.grove_session(repo, [("spawn_work_instance", {"launch": False, "prompt": "s%d" % i})
                                     for i in range(n)])
    p = subprocess.Popen([env.args.grove, "serve"], cwd=repo, env=env.env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def rpc(i, method, params=None):
        msg = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        p.stdin.write((json.dumps(msg) + "\n").encode())
        p.stdin.flush()
        while True:
            r = json.loads(p.stdout.readline())
            if r.get("id") == i:
                return r
    try:
        rpc(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                              "clientInfo": {"name": "bench", "version": "1"}})
        for k, x in enumerate(insts):
            r = rpc(k + 1, "resources/subscribe", {"uri": "grove://instances/" + x["instance"]["id"]})
            if "result" not in r:
                raise RuntimeError("subscribe failed: %r" % r)
        time.sleep(1.5)
        env.settle()
        c0, t0 = proc_cpu_s(p.pid), time.monotonic()
        time.sleep(S["sub_seconds"])
        c1, t1 = proc_cpu_s(p.pid), time.monotonic()
        # latency: another process logs a checkpoint at a random moment; from its start to the
        # notifications/resources/updated of that instance (its start-up time included)
        rng = random.Random(7)
        lat, errors = [], 0
        for r in range(S["sub_latency_runs"]):
            inst = insts[r % n]["instance"]["id"]
            time.sleep(rng.uniform(0.05, 1.0))
            t0 = time.monotonic()
            c = subprocess.run([env.args.grove, "call", "log_checkpoint",
                                json.dumps({"instance_id": inst, "phase": "p%d" % r})],
                               cwd=repo, env=env.env, capture_output=True)
            if c.returncode != 0:
                errors += 1
                continue
            want = "grove://instances/" + inst
            while True:
                if not select.select([p.stdout], [], [], 5.0)[0]:
                    errors += 1
                    break
                m = json.loads(p.stdout.readline())
                if (m.get("method") == "notifications/resources/updated"
                        and m["params"]["uri"] == want):
                    lat.append((time.monotonic() - t0) * 1000.0)
                    break
    finally:
        p.stdin.close()
        p.wait(timeout=30)
    pct = 100.0 * (c1 - c0) / (t1 - t0)
    return {"subscriptions": n, "seconds": S["sub_seconds"], "cpu_pct": figure([pct], "%"),
            "updated_latency_p50_ms": figure([percentile(lat, 50)], "ms") if lat else None,
            "updated_latency_p99_ms": figure([percentile(lat, 99)], "ms") if lat else None,
            "latency_runs": len(lat), "latencies_ms": [round(x, 1) for x in lat],
            "errors": errors}
# ---- 9. grove watch ------------------------------------------------------------------


def proc_cpu_s(pid):
    """CPU seconds of process pid (its threads' run time in nanoseconds, from
    /proc/PID/task/*/schedstat: /proc/PID/stat counts whole clock ticks) and of the children
    it has waited for (cutime, cstime: ticks)."""
    ns = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                ns += int(f.read().split()[0])
        except (OSError, ValueError):
            pass  # a thread that ended meanwhile
    with open("/proc/%d/stat" % pid) as f:
        v = f.read().rsplit(")", 1)[1].split()
    return ns / 1e9 + sum(int(x) for x in v[13:15]) / os.sysconf("SC_CLK_TCK")


def bench_watch(env, S):
    """`grove watch` in a pseudo-terminal (200 x 60, TERM=xterm-256color) with
    watch_instances instances of a watch_files-file repository, each with a stand-in agent
    in a tmux session (a server of its own) that prints a line a second, so that every
    agent_state is `working` (from tmux): the worst case for the cadence of git status
    (every 5 s each, within grove's CPU budget for it); a checkpoint each, every fifth
    worktree with an uncommitted file. Measured: the CPU time grove spends per second of
    watching (user + system, its tmux children included: getrusage of the child from wait4,
    over watch_seconds from start to `q`), the same after the first two seconds (the start
    and the first full refresh left out: /proc), and the bytes it writes to the terminal per
    second (ncurses sends only what changed)."""
    repo = os.path.join(env.work, "watch")
    info = make_repo(env, repo, S["watch_files"], seed=9)
    env.run([env.args.grove, "init"], cwd=repo)
    n = S["watch_instances"]
    sock = "grove-bench-watch-%d" % os.getpid()
    wenv = dict(env.env, GROVE_TMUX_SOCKET=sock, TERM="xterm-256color", LANG="C.UTF-8")
    tmux = shutil.which("tmux") is not None
    if tmux:
        wenv["GROVE_AGENT_COMMAND"] = json.dumps(
            ["sh", "-c", "while :; do echo working; sleep 1; done"])
    try:
        made = env.grove_session(repo, [("spawn_work_instance", {"launch": tmux, "prompt": "w%d" % i})
                                        for i in range(n)], env=wenv)
        ids = [m["instance"]["id"] for m in made]
        env.grove_session(repo, [("log_checkpoint", checkpoint_args(i)) for i in ids], env=wenv)
        for k in range(0, n, 5):
            with open(os.path.join(made[k]["instance"]["worktree_path"], "scratch.txt"), "w") as f:
                f.write("uncommitted\n")
        cpu, steady, rate = [], [], []
        for r in range(S["watch_runs"]):
            env.settle()
            c_ms, s_ms, bps = watch_once(env, repo, wenv, S["watch_seconds"], n)
            cpu.append(c_ms)
            steady.append(s_ms)
            rate.append(bps)
        c = sqlite3.connect(db_path(repo))
        states = dict(c.execute("SELECT agent_state, count(*) FROM grove_instances"
                                " GROUP BY agent_state").fetchall())
        c.close()
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    return {"repository": info, "instances": n, "agents_in_tmux": tmux,
            "agent_states_at_end": states, "seconds_per_run": S["watch_seconds"],
            "cpu_ms_per_s": figure(cpu, "ms/s"), "steady_cpu_ms_per_s": figure(steady, "ms/s"),
            "terminal_bytes_per_s": figure(rate, "B/s"), "errors": 0}


def watch_once(env, repo, wenv, seconds, n):
    """One run of `grove watch`: (CPU ms per second from start to exit, the same after the
    first two seconds, terminal bytes per second)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 200, 0, 0))
    p = subprocess.Popen([env.args.grove, "watch"], cwd=repo, env=wenv, stdin=slave,
                         stdout=slave, stderr=slave, start_new_session=True,
                         preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    t0 = time.monotonic()
    out = b""
    first = None  # (time, CPU seconds) two seconds in
    while True:
        now = time.monotonic()
        if first is None and now - t0 >= min(2.0, seconds / 2):
            first = (now, proc_cpu_s(p.pid))
        if now - t0 >= seconds:
            break
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            out += os.read(master, 1 << 16)
    end = (time.monotonic(), proc_cpu_s(p.pid))
    nbytes = len(out)
    os.write(master, b"q")
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    while select.select([master], [], [], 0)[0]:
        try:
            if not os.read(master, 1 << 16):
                break
        except OSError:
            break
    os.close(master)
    if p.returncode != 0 or b"%d instances" % n not in out:
        raise RuntimeError("grove watch failed (%s): %r" % (p.returncode, out[-400:]))
    return ((ru.ru_utime + ru.ru_stime) * 1000.0 / wall,
            (end[1] - first[1]) * 1000.0 / (end[0] - first[0]), nbytes / wall)


def machine(env):
    def first(path, key):
        try:
            for line in open(path):
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return None

    def version(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  env=env.env).stdout.decode().strip().splitlines()[0]
        except (OSError, IndexError):
            return None

    mem = first("/proc/meminfo", "MemTotal")
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = None
    fs = subprocess.run(["df", "-T", env.work], stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL).stdout.decode().splitlines()
    return {
        "cpu": first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem.split()[0]) / 1048576, 1) if mem else None,
        "kernel": platform.release(),
        "filesystem": fs[1].split()[1] if len(fs) > 1 else None,
        "git": version(["git", "--version"]),
        "node": version([env.args.node, "--version"]) if env.args.node else None,
        "grove": version([env.args.grove, "--version"]),
        "loadavg_at_start": env.load_at_start,
        "loadavg_at_end": load,
    }


def goals(res):
    g = []

    def add(name, target, value, met):
        g.append({"goal": name, "target": target, "value": value, "met": bool(met)})

    cs = res.get("cold_start")
    if cs:
        m = cs["grove_initialize_ms"]["median"]
        add("cold start", "median < 5 ms", "%.2f ms" % m, m < 5)
        m = cs["grove_discover_ms"]["median"]
        add("cold start → server/discover (2026-07-28)", "median < 5 ms", "%.2f ms" % m, m < 5)
        m = cs["grove_discover_tools_list_ms"]["median"]
        add("cold start → first stateless tools/list (2026-07-28)", "median < 5 ms",
            "%.2f ms" % m, m < 5)
        if cs["sdk_over_grove"]:
            r = cs["sdk_over_grove"]["median"]
            add("cold start vs SDK", "≥ 20× faster", "%.1f×" % r, r >= 20)
    c = res.get("calls")
    if c:
        r = c["pipelined_over_nondurable_floor"]["median"]
        add("pipelined log_checkpoint (durable)", "≥ 0.5× the non-durable floor", "%.2f×" % r,
            r >= 0.5)
    q = res.get("queries")
    if q:
        worst = max(q["queries"], key=lambda x: x["p99_ms"]["median"])
        v = worst["p99_ms"]["median"]
        add("queries at scale", "p99 < 2 ms each",
            "worst %.2f ms (%s %s)" % (v, worst["tool"], worst["args"]), v < 2)
    w = res.get("worktree")
    if w:
        r = w["grove_over_best_git"]["median"]
        add("worktree creation", "≤ 1.0× git's best (%s)" % w["best_git"], "%.2f×" % r, r <= 1.0)
    b = res.get("bigrepo")
    if b:
        w = b["generated"]
        r = w["grove_over_best_git"]["median"]
        add("worktree of %d files" % w["repository"]["files"],
            "≤ 0.6× git's best (%s)" % w["best_git"], "%.2f×" % r, r <= 0.6)
        w = b.get("xfs")
        if w:
            r = w["grove_over_best_git"]["median"]
            add("worktree of %d files on xfs (reflink)" % w["repository"]["files"],
                "≤ 0.6× git's best (%s)" % w["best_git"], "%.2f×" % r, r <= 0.6)
    a = res.get("agents")
    if a:
        add("8 agents", "zero errors", "%d errors, %.0f calls/s" % (
            a["errors"], a["total_per_s"]["median"]), a["errors"] == 0)
    m = res.get("memory")
    if m:
        lo, hi = m["calls"]
        peak = m["peak_rss_mb_at_%d" % hi]["median"]
        growth = m["growth_mb"]["median"]
        add("memory", "peak RSS < 10 MB after %d calls, flat from %d" % (hi, lo),
            "%.1f MB, +%.2f MB" % (peak, growth), peak < 10 and growth <= 0.25)
    rc = res.get("reconcile")
    if rc:
        r = rc["big_over_empty_initialize"]["median"]
        add("startup reconciliation", "`initialize` with %s instances ≤ 1.1× an empty database"
            % f"{rc['rows'].get('running', 0) + rc['rows'].get('terminated', 0):,}",
            "%.2f×" % r, r <= 1.1)
    ld = res.get("land")
    if ld:
        v = ld["grove_over_git"]["median"]
        add("land_instance", "squash no slower than `git merge --squash` + `git commit`",
            "%.2f×" % v, v <= 1.0)
    wt = res.get("watch")
    if wt:
        v = wt["cpu_ms_per_s"]["median"]
        add("grove watch", "< 50 ms of CPU per second with %d instances" % wt["instances"],
            "%.1f ms/s" % v, v < 50)
    cf = res.get("conflicts")
    if cf:
        v = cf["ms"]["get_conflicts_all_pairs"]["p50_ms"]["median"]
        add("get_conflicts", "all %d pairs of %d instances (%s files, %d commits ahead) < 100 ms"
            % (cf["pairs"], cf["instances"], f"{cf['repository']['files']:,}", cf["commits_each"]),
            "p50 %.1f ms" % v, v < 100)
    hk = res.get("hook")
    if hk:
        a, b = hk["p50_ms"]["median"], hk["p99_ms"]["median"]
        add("grove hook", "median < 5 ms, p99 < 15 ms with %s instances" % f"{hk['instances']:,}",
            "%.2f / %.2f ms" % (a, b), a < 5 and b < 15)
    sb = res.get("subscriptions")
    if sb:
        v = sb["cpu_pct"]["median"]
        if sb.get("updated_latency_p50_ms"):
            m = sb["updated_latency_p50_ms"]["median"]
            add("resources/updated after another process's change: p50", "< 250 ms",
                "%.0f ms" % m, m < 250)
            m = sb["updated_latency_p99_ms"]["median"]
            add("resources/updated after another process's change: p99", "< 1 s",
                "%.0f ms" % m, m < 1000)
        add("idle with subscriptions", "< 1 %% CPU with %d subscriptions" % sb["subscriptions"],
            "%.2f %%" % v, v < 1)
    ot = res.get("output")
    if ot:
        v = ot["p50_ms"]["median"]
        add("read_agent_output", "%d lines < 20 ms" % ot["lines"], "p50 %.2f ms" % v, v < 20)
    return g


def table(res, g):
    rows = ["| benchmark | grove | comparison | ratio |", "|---|---|---|---|"]
    cs = res.get("cold_start")
    if cs:
        rows.append("| cold start: process start → `initialize` response | %s | SDK server: %s | "
                    "%s faster |" % (fmt(cs["grove_initialize_ms"]), fmt(cs["sdk_initialize_ms"]),
                                     fmt(cs["sdk_over_grove"])))
        rows.append("| cold start → `tools/list` response / → first tool result (`query_instances`)"
                    " | %s / %s | | |" % (fmt(cs["grove_initialize_tools_list_ms"]),
                                          fmt(cs["grove_first_tool_call_ms"])))
        rows.append("| 2026-07-28: cold start → `server/discover` response / → first stateless "
                    "`tools/list` response | %s / %s | | |" % (
                        fmt(cs["grove_discover_ms"]), fmt(cs["grove_discover_tools_list_ms"])))
    c = res.get("calls")
    if c:
        rows.append("| `log_checkpoint` one at a time: p50 / p99 | %s / %s | | |" % (
            fmt(c["log_checkpoint_p50_ms"]), fmt(c["log_checkpoint_p99_ms"])))
        rows.append("| `log_checkpoint` pipelined (each answer fsynced) | %s | non-durable floor "
                    "(INSERT + COMMIT loop in C, synchronous = NORMAL): %s | %s of floor |" % (
                        fmt(c["log_checkpoint_pipelined_per_s"]),
                        fmt(c["floor_nondurable_insert_txn_per_s"]),
                        fmt(c["pipelined_over_nondurable_floor"])))
        rows.append("| | | durable floor (the same loop, synchronous = FULL): %s | %s of floor |" % (
            fmt(c["floor_insert_txn_per_s"]), fmt(c["pipelined_over_floor"])))
    q = res.get("queries")
    if q:
        for x in q["queries"]:
            rows.append("| `%s` %s, p50 / p99 | %s / %s | | |" % (
                x["tool"], x["args"], fmt(x["p50_ms"]), fmt(x["p99_ms"])))
        c = q.get("get_instance_changed")
        if c:
            rows.append("| `get_instance`, a file of its %d-file worktree changed before each call,"
                        " p50 / p99 | %s / %s | `git status --porcelain` (a process) after the "
                        "same change: %s | %s |" % (
                            q.get("files", 0), fmt(c["p50_ms"]), fmt(c["p99_ms"]),
                            fmt(c["git_status_p50_ms"]), fmt(c["ratio_p50"])))
    w = res.get("worktree")
    if w:
        ms = w["ms"]
        git = ", ".join("%d worker%s %s" % (int(n.split("_w")[1]),
                                              "" if n.endswith("_w1") else "s", fmt(ms[n]))
                        for n in ms if n.startswith("git_w"))
        rows.append("| worktree of %d files (%.0f MB): `spawn_work_instance` | %s | "
                    "`git worktree add -b`: %s | %s of best git (%s) |" % (
                        w["repository"]["files"], w["repository"]["bytes"] / 1e6,
                        fmt(ms["grove"]), git, fmt(w["grove_over_best_git"]),
                        w["best_git"].replace("git_w", "") + " w."))
        rows.append("| worktree: vs 1 worker / vs `git archive \\| tar -x` | | archive: %s | "
                    "%s / %s |" % (fmt(ms["archive"]), fmt(w["grove_over_git_w1"]),
                                   fmt(w["grove_over_archive"])))
    b = res.get("bigrepo")
    for key in ("generated", "xfs", "real") if b else ():
        w = b.get(key)
        if not w:
            continue
        ms = w["ms"]
        git = ", ".join("%d worker%s %s" % (int(n.split("_w")[1]),
                                              "" if n.endswith("_w1") else "s", fmt(ms[n]))
                        for n in ms if n.startswith("git_w"))
        what = ("%s tree" % w["repository"]["source"] if key == "real" else
                "worktree on xfs (reflink)" if key == "xfs" else "worktree")
        rows.append("| %s of %d files (%.0f MB): `spawn_work_instance` | %s | "
                    "`git worktree add -b`: %s | %s of best git (%s) |" % (
                        what, w["repository"]["files"], w["repository"]["bytes"] / 1e6,
                        fmt(ms["grove"]), git, fmt(w["grove_over_best_git"]),
                        w["best_git"].replace("git_w", "") + " w."))
    a = res.get("agents")
    if a:
        rows.append("| %d agents logging checkpoints at once: total, p99 | %s, p99 %s, "
                    "%d errors | | |" % (a["agents"], fmt(a["total_per_s"]), fmt(a["p99_ms"]),
                                         a["errors"]))
    m = res.get("memory")
    if m:
        lo, hi = m["calls"]
        rows.append("| peak RSS of `grove serve` after %s / %s calls | %s / %s | of which private "
                    "%s, shared-library pages %s | growth %s |" % (
                        f"{lo:,}", f"{hi:,}", fmt(m["peak_rss_mb_at_%d" % lo]),
                        fmt(m["peak_rss_mb_at_%d" % hi]), fmt(m["private_anon_mb_at_end"]),
                        fmt(m["file_backed_mb_at_end"]), fmt(m["growth_mb"])))
    rc = res.get("reconcile")
    if rc:
        n = rc["rows"].get("running", 0) + rc["rows"].get("terminated", 0)
        rows.append("| start → `initialize` with %s instances (%d running, %d with a dead agent) "
                    "| %s | empty database: %s | %s |" % (
                        f"{n:,}", rc["rows"].get("running", 0), rc["rows"]["running_with_agent"],
                        fmt(rc["big_initialize_ms"]), fmt(rc["empty_initialize_ms"]),
                        fmt(rc["big_over_empty_initialize"])))
        rows.append("| start → first `query_instances` (reconciles the dead agents) / once "
                    "settled | %s / %s | empty database: %s | %s |" % (
                        fmt(rc["big_first_call_ms"]), fmt(rc["big_settled_first_call_ms"]),
                        fmt(rc["empty_first_call_ms"]), fmt(rc["big_over_empty_first_call"])))
    d = res.get("diff")
    if d:
        for mode, what in (("worktree", "with the worktree (default)"),
                           ("commits", "commits only")):
            rows.append("| `get_diff` %s, %d files (%d changed) | %s | `git diff --stat -p`: %s |"
                        " %s |" % (what, d["repository"]["files"], sum(d["changed"].values()),
                                   fmt(d[mode]["grove_ms"]), fmt(d[mode]["git_ms"]),
                                   fmt(d[mode]["grove_over_git"])))
    ld = res.get("land")
    if ld:
        moved = (", main moved on (%d files): both land the same branch from the same state"
                 % ld["main_moved_files"]) if "main_moved_files" in ld else ""
        rows.append("| `land_instance` squash into the checked-out main, %s files, %d edited in %d "
                    "commits%s | %s | `git merge --squash` + `git commit`: %s | %s |" % (
                        f"{ld['repository']['files']:,}", ld["files_per_land"],
                        ld["commits_per_land"], moved,
                        fmt(ld["grove_ms"]), fmt(ld["git_ms"]), fmt(ld["grove_over_git"])))
    cf = res.get("conflicts")
    if cf:
        ms = cf["ms"]
        rows.append("| `get_conflicts` {}: %d instances, %d pairs (%d overlap, %d conflict), "
                    "%s files, p50 / p99 | %s / %s | | |" % (
                        cf["instances"], cf["pairs"], cf["pairs_overlapping"],
                        cf["pairs_conflicting"], f"{cf['repository']['files']:,}",
                        fmt(ms["get_conflicts_all_pairs"]["p50_ms"]),
                        fmt(ms["get_conflicts_all_pairs"]["p99_ms"])))
        rows.append("| `get_conflicts` {instance_id} / `get_instance` there, p50 | %s / %s | | |"
                    % (fmt(ms["get_conflicts_one"]["p50_ms"]), fmt(ms["get_instance"]["p50_ms"])))
    hk = res.get("hook")
    if hk:
        rows.append("| `grove hook working` (PreToolUse JSON on stdin), process start to exit, "
                    "%s instances, agents' servers connected, p50 / p99 | %s / %s | | |" % (
                        f"{hk['instances']:,}", fmt(hk["p50_ms"]), fmt(hk["p99_ms"])))
        rows.append("| the same with no other connection (the hook checkpoints the WAL as it "
                    "closes), p50 / p99 | %s / %s | | |" % (fmt(hk["alone_p50_ms"]),
                                                          fmt(hk["alone_p99_ms"])))
    sb = res.get("subscriptions")
    if sb:
        rows.append("| idle `grove serve` with %d resource subscriptions, CPU over %d s | %s | | |"
                    % (sb["subscriptions"], sb["seconds"], fmt(sb["cpu_pct"])))
        if sb.get("updated_latency_p50_ms"):
            rows.append("| `notifications/resources/updated` after a `log_checkpoint` by another "
                        "process (from its start, %d changes at random moments): p50 / p99 | "
                        "%s / %s | | |" % (sb["latency_runs"], fmt(sb["updated_latency_p50_ms"]),
                                          fmt(sb["updated_latency_p99_ms"])))
    ot = res.get("output")
    if ot:
        rows.append("| `read_agent_output` {lines: %d} of a tmux pane, p50 / p99 | %s / %s | | |"
                    % (ot["lines"], fmt(ot["p50_ms"]), fmt(ot["p99_ms"])))
    wt = res.get("watch")
    if wt:
        rows.append("| `grove watch`, %d instances%s (%s files): CPU per second of watching, "
                    "whole run / after the first 2 s; terminal bytes per second | %s / %s; %s | | |"
                    % (wt["instances"], " with agents in tmux" if wt["agents_in_tmux"] else "",
                       f"{wt['repository']['files']:,}", fmt(wt["cpu_ms_per_s"]),
                       fmt(wt["steady_cpu_ms_per_s"]), fmt(wt["terminal_bytes_per_s"])))
    text = "\n".join(rows) + "\n\n| goal | target | measured | status |\n|---|---|---|---|\n"
    text += "\n".join("| %s | %s | %s | %s |" % (x["goal"], x["target"], x["value"],
                                                  "met" if x["met"] else "**not met**") for x in g)
    return text + "\n"


def validate(path):
    """The JSON is well formed: every section present has its figures with numbers."""
    with open(path) as f:
        doc = json.load(f)
    assert doc["suite"] == "grove-bench" and doc["mode"] in SIZES, "header"
    assert isinstance(doc["machine"], dict) and isinstance(doc["goals"], list)
    assert isinstance(doc["table"], str) and doc["table"].startswith("| benchmark")
    nfig = 0

    def walk(v, where):
        nonlocal nfig
        if isinstance(v, dict):
            if "median" in v and "unit" in v:
                for k in ("median", "min", "max"):
                    assert isinstance(v[k], (int, float)), "%s.%s" % (where, k)
                assert v["min"] <= v["median"] <= v["max"], where
                assert v["runs"], where
                nfig += 1
            for k, x in v.items():
                walk(x, where + "." + k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, "%s[%d]" % (where, i))

    for s in doc["sections_run"]:
        assert s in doc["results"], "missing section " + s
    walk(doc["results"], "results")
    assert nfig > 0, "no figures"
    return nfig


def commit():
    """The commit the suite ran at, and whether the tree had changes."""
    top = os.path.join(HERE, "..", "..")

    def git(*a):
        r = subprocess.run(["git", "-C", top] + list(a), capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"sha": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grove", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--explain", required=True)
    ap.add_argument("--node", default=shutil.which("node"))
    ap.add_argument("--node-modules", default=os.path.join(HERE, "..", "e2e", "node_modules"))
    ap.add_argument("--quick", action="store_true", help="tiny sizes (CI: checks the suite runs)")
    ap.add_argument("--json", help="where to write the results (default: bench.json here)")
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--workdir", help="scratch folder (default: a new one in $TMPDIR)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--real-tree", help="bigrepo: a Debian linux-source .deb or .tar.xz "
                    "(default: /usr/src/linux-source-*.tar.xz when installed)")
    ap.add_argument("--settle", type=float, default=None,
                    help="seconds in all to wait for an idle machine before runs "
                         "(default: 120, or 0 with --quick)")
    args = ap.parse_args()
    for k in ("grove", "client", "floor", "explain"):
        setattr(args, k, os.path.abspath(getattr(args, k)))
    args.node_modules = os.path.abspath(args.node_modules)
    if not os.path.isdir(os.path.join(args.node_modules, "@modelcontextprotocol", "sdk")):
        args.node_modules = ""
    mode = "quick" if args.quick else "full"
    if args.settle is None:
        args.settle = 0 if args.quick else 120
    S = SIZES[mode]
    sections = args.only.split(",") if args.only else SECTIONS
    for s in sections:
        if s not in SECTIONS:
            ap.error("unknown section " + s)
    work = args.workdir or tempfile.mkdtemp(prefix="grove-bench-")
    os.makedirs(work, exist_ok=True)
    work = os.path.realpath(work)
    env = Env(args, work)
    out_path = os.path.abspath(args.json or "bench.json")
    started = time.time()
    results = {}
    try:
        for s in sections:
            log("%s (%s)..." % (s, mode))
            t0 = time.perf_counter()
            results[s] = globals()["bench_" + s](env, S)
            log("%s done in %.1f s" % (s, time.perf_counter() - t0))
        g = goals(results)
        doc = {
            "suite": "grove-bench", "version": 1, "mode": mode, "commit": commit(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "duration_s": round(time.time() - started, 1),
            "machine": machine(env), "sections_run": sections, "sizes": S,
            "others_busy_at_run_start_pct": figure(env.busy or [0.0], "%"),
            "settle_wait_s": round(float(args.settle) - env.settle_budget, 1),
            "results": results, "goals": g, "table": table(results, g),
        }
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    nfig = validate(out_path)
    if mode == "full" and not args.only:
        # every full run is kept, with its commit and machine (tests/bench/compare.py reads them)
        kept = os.path.join(HERE, "results", "%s-%s.json" % (
            doc["started_at"].replace(":", "").replace("-", ""),
            (doc["commit"]["sha"] or "unknown")[:12]))
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        shutil.copyfile(out_path, kept)
        log("kept as %s (compare: tests/bench/compare.py --latest)" % os.path.relpath(kept))
    m = doc["machine"]
    busy = doc["others_busy_at_run_start_pct"]
    print("Machine: %s, %s cores, %s GiB RAM, Linux %s, %s; %s; node %s. Load average %s at "
          "start, %s at end; other processes' CPU + I/O wait when runs began: median %.0f%%, "
          "max %.0f%% (waited %.0f s for quiet).\n" % (
              m["cpu"], m["cores"], m["memory_gib"], m["kernel"], m["filesystem"], m["git"],
              m["node"], " ".join(m["loadavg_at_start"] or []),
              " ".join(m["loadavg_at_end"] or []), busy["median"], busy["max"],
              doc["settle_wait_s"]))
    print(doc["table"])
    log("%d figures written to %s (%.0f s)" % (nfig, out_path, time.time() - started))
    errors = sum(r.get("errors", 0) for r in results.values() if isinstance(r, dict))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
