#!/usr/bin/python3
"""Benchmark results side by side, and the README's table from the latest full run.

  compare.py A.json B.json     every figure of run A and run B side by side (medians), the change,
                               and a flag on each that got more than 10 % worse; exit 1 when a
                               ratio (unit ×, measured side by side within one run and so
                               comparable across machines) got more than 10 % worse
  compare.py --latest          the two newest full runs in tests/bench/results/
  compare.py --readme [RUN]    rewrites the README's Performance table (between the
                               "bench:table" markers) from RUN (default: the newest full run)

Full runs of tests/bench/run.sh (no --quick, no --only) are kept in tests/bench/results/ as
<start time>-<commit>.json with the commit and the machine they ran on.
"""
import glob
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# (the test points these elsewhere)
RESULTS = os.environ.get("GROVE_BENCH_RESULTS", os.path.join(HERE, "results"))
README = os.environ.get("GROVE_BENCH_README", os.path.join(HERE, "..", "..", "README.md"))
WORSE = 0.10

# Figures where more is better: rates, and ratios that say how many times faster grove is than
# something else (or what fraction of a floor it reaches). Everything else (times, memory, CPU
# shares, ratios of grove over a reference) is better when smaller.
HIGHER_IS_BETTER = re.compile(r"(_per_s|_over_grove|_over_floor|_over_nondurable_floor|_of_floor|speedup|throughput)$")


def figures(node, path=""):
    """(path, figure) for every figure ({median, min, max, unit}) in a results tree."""
    if isinstance(node, dict):
        if "median" in node and "unit" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from figures(v, path + "/" + k if path else k)


def higher_is_better(path, unit):
    # a rate of work done is better higher; a rate of cost (CPU ms or terminal bytes per second
    # of `grove watch`) is better lower
    if unit == "ms/s" or path.endswith(("cpu_ms_per_s", "terminal_bytes_per_s")):
        return False
    return unit in ("/s", "B/s") or bool(HIGHER_IS_BETTER.search(path))


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if doc.get("suite") != "grove-bench":
        sys.exit("%s: not a grove benchmark result" % path)
    return doc


def describe(doc, path):
    m = doc.get("machine", {})
    c = doc.get("commit") or {}
    return "%s: %s, commit %s%s, %s mode; %s, %s cores, Linux %s, %s" % (
        os.path.basename(path), doc.get("started_at", "?"), (c.get("sha") or "?")[:12],
        " (dirty)" if c.get("dirty") else "", doc.get("mode", "?"), m.get("cpu", "?"),
        m.get("cores", "?"), m.get("kernel", "?"), m.get("filesystem", "?"))


def num(x):
    if x is None:
        return "—"
    return "%.3g" % x if abs(x) < 100 else "{:,.0f}".format(x)


def compare(a_path, b_path):
    a, b = load(a_path), load(b_path)
    print("A " + describe(a, a_path))
    print("B " + describe(b, b_path))
    fa = dict(figures(a.get("results", {})))
    fb = dict(figures(b.get("results", {})))
    rows, worse_ratios, worse_other = [], 0, 0
    for path in sorted(set(fa) | set(fb)):
        x, y = fa.get(path), fb.get(path)
        unit = (x or y)["unit"]
        flag, change = "", ""
        if x and y and x["median"] not in (None, 0) and y["median"] is not None:
            r = y["median"] / x["median"]
            change = "%+.0f%%" % ((r - 1) * 100)
            bad = r < 1 - WORSE if higher_is_better(path, unit) else r > 1 + WORSE
            if bad:
                flag = "WORSE (ratio)" if unit == "×" else "worse"
                if unit == "×":
                    worse_ratios += 1
                else:
                    worse_other += 1
        rows.append((path, "%s %s" % (num(x and x["median"]), unit) if x else "—",
                     "%s %s" % (num(y and y["median"]), unit) if y else "—", change, flag))
    w = [max(len(r[i]) for r in rows + [("figure", "A", "B", "change", "")]) for i in range(5)]
    print()
    for r in [("figure", "A", "B", "change", "")] + rows:
        print("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) if i < 4 else c
                        for i, c in enumerate(r)).rstrip())
    ga = {g["goal"]: g for g in a.get("goals", [])}
    gb = {g["goal"]: g for g in b.get("goals", [])}
    if ga or gb:
        print("\ngoals (A → B):")
        for name in list(ga) + [n for n in gb if n not in ga]:
            def st(g):
                return "—" if not g else ("met" if g["met"] else "NOT MET") + " " + g["value"]
            print("  %s (%s): %s → %s" % (name, (ga.get(name) or gb.get(name))["target"],
                                          st(ga.get(name)), st(gb.get(name))))
    print("\n%d ratio%s and %d other figure%s more than %d %% worse" % (
        worse_ratios, "" if worse_ratios == 1 else "s", worse_other,
        "" if worse_other == 1 else "s", WORSE * 100))
    return 1 if worse_ratios else 0


def full_runs():
    runs = []
    for p in glob.glob(os.path.join(RESULTS, "*.json")):
        try:
            d = load(p)
        except (OSError, ValueError, SystemExit):
            continue
        if d.get("mode") == "full":
            runs.append((d.get("started_at", ""), p))
    return [p for _, p in sorted(runs)]


def readme(run):
    doc = load(run)
    m = doc["machine"]
    busy = doc["others_busy_at_run_start_pct"]
    c = doc.get("commit") or {}
    text = ("<!-- bench:table:start (tests/bench/compare.py --readme writes this) -->\n"
            "From the full run `%s` (`tests/bench/run.sh`, %.0f min) at commit %s on %s, "
            "%s cores, %s GiB RAM, Linux %s, %s; %s; node %s; load average %s at start; "
            "other processes' CPU + I/O wait when runs began: median %.0f%%, max %.0f%%.\n\n"
            "%s\n<!-- bench:table:end -->" % (
                os.path.relpath(run, os.path.join(HERE, "..", "..")), doc["duration_s"] / 60,
                (c.get("sha") or "?")[:12], m["cpu"], m["cores"], m["memory_gib"], m["kernel"],
                m["filesystem"], m["git"], m["node"], " ".join(m["loadavg_at_start"] or []),
                busy["median"], busy["max"], doc["table"].rstrip()))
    with open(README) as f:
        old = f.read()
    new, n = re.subn(r"<!-- bench:table:start.*?<!-- bench:table:end -->", lambda _: text, old,
                     flags=re.S)
    if n != 1:
        sys.exit("README.md: no bench:table markers")
    with open(README, "w") as f:
        f.write(new)
    print("README.md: the Performance table is now the one of " + os.path.basename(run))
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] not in ("--latest", "--readme"):
        return compare(argv[0], argv[1])
    if argv == ["--latest"]:
        runs = full_runs()
        if len(runs) < 2:
            sys.exit("compare.py: fewer than two full runs in %s" % RESULTS)
        return compare(runs[-2], runs[-1])
    if argv and argv[0] == "--readme" and len(argv) <= 2:
        runs = full_runs()
        if len(argv) == 1 and not runs:
            sys.exit("compare.py: no full run in %s" % RESULTS)
        return readme(argv[1] if len(argv) == 2 else runs[-1])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
