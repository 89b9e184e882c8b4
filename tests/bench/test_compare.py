#!/usr/bin/python3
"""tests/bench/compare.py on two made-up runs: a ratio more than 10 % worse is flagged and fails
the comparison, a rate that rose and a time that got 5 % worse are not; --latest takes the two
newest full runs (quick ones are not kept); --readme puts the newest run's table between the
markers and leaves the rest of the file alone."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def fig(v, unit):
    return {"median": v, "min": v, "max": v, "runs": 1, "unit": unit}


def run_doc(started, sha, ratio, rate, ms, mode="full"):
    return {"suite": "grove-bench", "version": 1, "mode": mode, "started_at": started,
            "commit": {"sha": sha, "dirty": False}, "duration_s": 300,
            "machine": {"cpu": "test cpu", "cores": 2, "memory_gib": 1, "kernel": "6", "filesystem": "ext4",
                        "git": "git 2", "node": "v20", "loadavg_at_start": ["0.1"]},
            "others_busy_at_run_start_pct": fig(0, "%"),
            "results": {"worktree": {"spawn_over_best_git": fig(ratio, "×")},
                        "calls": {"log_checkpoint_pipelined_per_s": fig(rate, "/s"),
                                  "log_checkpoint_p50_ms": fig(ms, "ms"),
                                  # grove's rate over the floor's: higher is better (a -> b
                                  # falls 0.6 -> 0.5, b -> a rises)
                                  "pipelined_over_floor": fig(0.3 / ratio, "×"),
                                  "pipelined_over_nondurable_floor": fig(0.25 / ratio, "×")},
                        # costs per second: lower is better (rate 1000 -> 1500: 30 -> 20 ms/s)
                        "watch": {"cpu_ms_per_s": fig(30000.0 / rate, "ms/s"),
                                  "terminal_bytes_per_s": fig(1500000.0 / rate, "B/s")}},
            "goals": [{"goal": "g", "target": "t", "value": str(ratio), "met": ratio < 1}],
            "table": "| benchmark | grove |\n|---|---|\n| made up %s | %s |" % (sha, ratio)}


def compare(env, *args):
    r = subprocess.run([sys.executable, os.path.join(HERE, "compare.py")] + list(args),
                       env=env, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def main():
    fails = []

    def check(cond, what):
        if not cond:
            fails.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        results = os.path.join(tmp, "results")
        os.makedirs(results)
        env = dict(os.environ, GROVE_BENCH_RESULTS=results,
                   GROVE_BENCH_README=os.path.join(tmp, "README.md"))
        docs = {"a.json": run_doc("2026-12-01T10:00:00Z", "a" * 40, 0.50, 1000, 1.00),
                "b.json": run_doc("2026-12-02T10:00:00Z", "b" * 40, 0.60, 1500, 1.05),
                "c.json": run_doc("2026-12-03T10:00:00Z", "c" * 40, 0.52, 1500, 1.05),
                "q.json": run_doc("2026-12-04T10:00:00Z", "d" * 40, 9.0, 1, 99, mode="quick")}
        for name, d in docs.items():
            with open(os.path.join(results, name), "w") as f:
                json.dump(d, f)
        a, b, c = (os.path.join(results, n) for n in ("a.json", "b.json", "c.json"))
        code, out = compare(env, a, b)
        check(code == 1, "a ratio 20 %% worse must fail the comparison (exit %d)" % code)
        lines = {l.split()[0]: l for l in out.splitlines()
                 if l.startswith(("worktree/", "calls/", "watch/"))}
        for cost in ("watch/cpu_ms_per_s", "watch/terminal_bytes_per_s"):
            check("worse" not in lines.get(cost, "x").lower(), "a lower cost flagged:\n" + out)
        check("WORSE" in lines.get("worktree/spawn_over_best_git", ""), "ratio not flagged:\n" + out)
        check("worse" not in lines.get("calls/log_checkpoint_pipelined_per_s", "x").lower(),
              "a higher rate flagged:\n" + out)
        check("worse" not in lines.get("calls/log_checkpoint_p50_ms", "x").lower(),
              "a time 5 % worse flagged:\n" + out)
        for down in ("calls/pipelined_over_floor", "calls/pipelined_over_nondurable_floor"):
            check("WORSE" in lines.get(down, ""), "a lower share of the floor not flagged:\n" + out)
        check("+20%" in lines.get("worktree/spawn_over_best_git", ""), "change not shown:\n" + out)
        code, out = compare(env, b, a)
        check(code == 0, "a better ratio must pass (exit %d):\n%s" % (code, out))
        back = {l.split()[0]: l for l in out.splitlines() if l.startswith("watch/")}
        for cost in ("watch/cpu_ms_per_s", "watch/terminal_bytes_per_s"):
            check("worse" in back.get(cost, "").lower(), "a higher cost not flagged:\n" + out)
        back = {l.split()[0]: l for l in out.splitlines() if l.startswith("calls/")}
        for up in ("calls/pipelined_over_floor", "calls/pipelined_over_nondurable_floor"):
            check("worse" not in back.get(up, "x").lower(), "a higher share of the floor "
                  "flagged:\n" + out)
        code, out = compare(env, "--latest")
        check(code == 0 and "B c.json" in out and "A b.json" in out,
              "--latest must compare b and c (the quick run is not a full one):\n" + out)
        with open(os.path.join(tmp, "README.md"), "w") as f:
            f.write("# x\n\nbefore\n<!-- bench:table:start -->\nold\n<!-- bench:table:end -->\nafter\n")
        code, out = compare(env, "--readme")
        text = open(os.path.join(tmp, "README.md")).read()
        check(code == 0 and "made up " + "c" * 40 in text and "old" not in text
              and text.startswith("# x\n\nbefore\n") and text.endswith("after\n")
              and "commit cccccccccccc" in text, "--readme:\n" + out + text)
    for f in fails:
        print("FAIL: " + f)
    print("compare: %s" % ("ok" if not fails else "%d failure(s)" % len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
