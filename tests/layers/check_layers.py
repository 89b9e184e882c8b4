#!/usr/bin/env python3
"""Keeps grove's layers honest (README, "Architecture").

  check_layers.py SRCROOT        checks the tree; exit 1 listing every violation
  check_layers.py --self-test SRCROOT
                                 plants one violation of each kind in a copy of
                                 the tree and checks that each one is caught

Every C file under mcp/, db/ and tools/ belongs to a module, and every module
to a layer. A file may include the headers of its own module and of modules in
lower layers; never a higher layer, never another module of its own layer, and
never another module's private header (*_internal.h); git, agents and forge
use base alone. Also: only the git layer
includes git2.h, only forge includes curl/curl.h, only the command line
includes curses.h (a terminal is a front-end's business), only db/ runs SQL
(sqlite3_prepare*, sqlite3_exec, sqlite3_step), and no two files include each
other's headers in a loop.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

# (path prefix, module, layer), most specific first.
MODULES = [
    ("tools/base/", "base", 1),
    ("db/", "db", 2),
    ("tools/git/", "git", 3),
    ("tools/agents/", "agents", 3),
    ("tools/forge/", "forge", 3),
    ("tools/core/", "core", 4),
    ("mcp/main.c", "main", 7),
    ("mcp/", "mcp", 5),
    ("tools/wire.", "wire", 5),
    ("tools/cli/", "cli", 6),
    ("tools/", "tools", 6),
]
# Modules that may use no other module than these (git, agents and forge stand on base alone).
ONLY = {"git": {"base"}, "agents": {"base"}, "forge": {"base"}}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)
SQL_CALL = re.compile(r"\bsqlite3_(prepare\w*|exec|step)\s*\(")
EXCLUSIVE = {"git2.h": "git", "curl/curl.h": "forge", "curses.h": "cli", "ncurses.h": "cli"}


def module_of(path):
    for prefix, mod, layer in MODULES:
        if path == prefix or path.startswith(prefix):
            return mod, layer
    return None, None


def sources(root):
    out = []
    for top in ("mcp", "db", "tools"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def check(root):
    problems = []
    edges = {}  # stem -> set of stems whose header it includes
    for path in sources(root):
        mod, layer = module_of(path)
        if mod is None:
            problems.append("%s: in no layer (add it to a layer's folder)" % path)
            continue
        with open(os.path.join(root, path), encoding="utf-8", errors="replace") as f:
            text = strip_comments(f.read())
        stem = path[:-2]
        for kind, inc in INCLUDE.findall(text):
            if kind == "<":
                owner = EXCLUSIVE.get(inc)
                if owner and mod != owner:
                    problems.append("%s: includes <%s>, which only the %s layer may" %
                                    (path, inc, owner))
                continue
            imod, ilayer = module_of(inc)
            if imod is None:
                continue  # a header generated into the build folder of the same module
            if inc.endswith("_internal.h") and os.path.dirname(inc) != os.path.dirname(path):
                problems.append("%s: includes %s, another module's private header" % (path, inc))
            if imod != mod:
                if mod in ONLY and imod not in ONLY[mod]:
                    problems.append("%s: includes %s: %s uses %s only" %
                                    (path, inc, mod, " and ".join(sorted(ONLY[mod]))))
                elif ilayer > layer:
                    problems.append("%s: includes %s, which goes up from %s (layer %d) to %s "
                                    "(layer %d)" % (path, inc, mod, layer, imod, ilayer))
                elif ilayer == layer:
                    problems.append("%s: includes %s, across from %s to %s (both layer %d)" %
                                    (path, inc, mod, imod, layer))
            if inc[:-2] != stem:
                edges.setdefault(stem, set()).add(inc[:-2])
        if mod != "db" and SQL_CALL.search(text):
            problems.append("%s: runs SQL (%s); only db/ does" %
                            (path, SQL_CALL.search(text).group(0).rstrip("( ")))
    problems += loops(edges, {p[:-2] for p in sources(root) if p.endswith(".c")})
    return problems


def loops(edges, units):
    """
    Cycles among units (a .c file with its .h), each reported once. A header
    without a .c of its own (db/db_internal.h) stands for what it includes.
    """
    def expand(n, seen):
        out = set()
        for m in edges.get(n, ()):
            if m in units:
                out.add(m)
            elif m not in seen:
                seen.add(m)
                out |= expand(m, seen)
        return out

    edges = {n: expand(n, {n}) - {n} for n in units}
    found, seen, state = [], set(), {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                cyc = stack[stack.index(m):]
                key = frozenset(cyc)
                if key not in seen:
                    seen.add(key)
                    found.append("include loop: " + " -> ".join(cyc + [m]))
            elif not state.get(m):
                visit(m, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if not state.get(n):
            visit(n, [])
    return found


PLANTS = [
    # (file, line to add, what the report must say)
    ("db/db.c", '#include "tools/core/context.h"\n', "goes up from db"),
    ("tools/git/repo.c", '#include "tools/agents/agent.h"\n', "git uses base only"),
    ("tools/cli/cli.c", '#include "tools/registry.h"\n', "across from cli to tools"),
    ("tools/core/instance.c", "#include <git2.h>\n", "only the git layer may"),
    ("tools/agents/agent.c", "#include <curl/curl.h>\n", "only the forge layer may"),
    ("tools/core/overview.c", "#include <curses.h>\n", "only the cli layer may"),
    ("tools/core/context.c", "static void planted(void) { sqlite3_exec(0, 0, 0, 0, 0); }\n",
     "runs SQL"),
    ("tools/core/instance.c", '#include "db/db_internal.h"\n', "private header"),
    ("tools/forge/forge.c", '#include "db/db.h"\n', "forge uses base only"),
    ("tools/base/buf.h", '#include "tools/base/grove.h"\n', None),  # allowed: same module
    ("tools/core/gc.c", '#include "db/db.h"\n', None),  # allowed: down a layer
]


def self_test(root):
    failures = 0
    baseline = set(check(root))  # the self-test judges what a plant adds
    for path, line, expect in PLANTS:
        if not os.path.exists(os.path.join(root, path)):
            path = next(p for p in sources(root) if p.startswith(os.path.dirname(path) + "/")
                        and p.endswith(".c"))
        with tempfile.TemporaryDirectory() as tmp:
            for top in ("mcp", "db", "tools"):
                shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
            target = os.path.join(tmp, path)
            with open(target, encoding="utf-8") as f:
                text = f.read()
            with open(target, "w", encoding="utf-8") as f:
                f.write(line + text)
            got = [p for p in check(tmp) if p not in baseline]
            hit = [p for p in got if expect and expect in p and p.startswith(path)]
            if expect and not hit:
                print("self-test: planting %r in %s was not caught (got %r)" % (line.strip(), path, got))
                failures += 1
            elif not expect and got:
                print("self-test: planting %r in %s was reported: %r" % (line.strip(), path, got))
                failures += 1
            else:
                print("self-test: %s: %s" % (path, hit[0] if hit else "allowed, as it should be"))
    # A loop of two files in one module.
    with tempfile.TemporaryDirectory() as tmp:
        for top in ("mcp", "db", "tools"):
            shutil.copytree(os.path.join(root, top), os.path.join(tmp, top))
        for a, b in (("ping", "pong"), ("pong", "ping")):
            with open(os.path.join(tmp, "tools/core/%s.c" % a), "w") as f:
                f.write('#include "tools/core/%s.h"\n' % b)
            open(os.path.join(tmp, "tools/core/%s.h" % a), "w").close()
        if not [p for p in check(tmp) if p.startswith("include loop") and "ping" in p and
                p not in baseline]:
            print("self-test: an include loop was not caught")
            failures += 1
        else:
            print("self-test: include loop caught")
    return failures


def main(argv):
    if len(argv) == 3 and argv[1] == "--self-test":
        sys.exit(1 if self_test(argv[2]) else 0)
    if len(argv) != 2:
        sys.exit(__doc__)
    problems = check(argv[1])
    for p in problems:
        print(p)
    print("%d files checked, %d problems" % (len(sources(argv[1])), len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main(sys.argv)
