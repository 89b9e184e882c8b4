#!/usr/bin/python3
"""Stand-in agent CLIs for the tests: installed on PATH as `claude`, `codex` and `gemini`
(by the name it is called with). Each parses its argv as the real CLI documents it,
records what it got in $STANDIN_LOG (one JSON object per run), and acts on it as the real
one would for grove:

- claude: --mcp-config <json>... and --allowedTools <tool>... (variadic: they take values
  until the next option), --settings <json>, --session-id <uuid>, --resume <id>, "--"
  ending the options, then the prompt. It starts the MCP server named `grove` from the
  --mcp-config exactly as given (command, args, env over its own environment), calls
  log_checkpoint through it as an MCP client, and runs the hooks of --settings as Claude
  Code does: each hook command through `sh -c`, the event's JSON on stdin
  (hook_event_name, session_id, cwd, and the event's own fields).
- codex: -c key=value (TOML values); it reads mcp_servers.grove (command, args, env) and
  does the same MCP call. No hooks.
- gemini: reads the MCP servers of the system defaults file named by
  GEMINI_CLI_SYSTEM_DEFAULTS_PATH; -i/--prompt-interactive <prompt>, --resume <id>.

Then it prints a question and waits: a line "STANDIN-GO" in file $STANDIN_GO (polled)
makes a claude stand-in send its Stop hook; it exits when $STANDIN_EXIT exists.
"""
import json
import os
import subprocess
import sys
import time
import tomllib

LOG = os.environ.get("STANDIN_LOG")
NAME = os.path.basename(sys.argv[0])


def record(**kw):
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(dict(kw, cli=NAME, cwd=os.getcwd(),
                                    instance_env=os.environ.get("GROVE_INSTANCE_ID"),
                                    port=os.environ.get("GROVE_PORT"),
                                    anthropic_key=os.environ.get("ANTHROPIC_API_KEY"))) + "\n")


def parse_claude(argv):
    opts = {"mcp-config": [], "allowedTools": [], "settings": None, "session-id": None,
            "resume": None, "prompt": None}
    variadic = {"--mcp-config": "mcp-config", "--allowedTools": "allowedTools"}
    single = {"--settings": "settings", "--session-id": "session-id", "--resume": "resume"}
    i, positional = 0, []
    while i < len(argv):
        a = argv[i]
        if a == "--":
            positional += argv[i + 1:]
            break
        if a in variadic:
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                opts[variadic[a]].append(argv[i])
                i += 1
            continue
        if a in single:
            opts[single[a]] = argv[i + 1]
            i += 2
            continue
        if a.startswith("-"):
            raise SystemExit("claude stand-in: unknown option %s" % a)
        positional.append(a)
        i += 1
    if positional:
        opts["prompt"] = positional[0]
    return opts


def mcp_call(server, tool, arguments):
    """Starts the MCP server {command, args, env} and makes one tools/call; its result."""
    env = dict(os.environ)
    env.update(server.get("env") or {})
    p = subprocess.Popen([server["command"]] + list(server.get("args") or []), env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def rpc(msg):
        p.stdin.write(json.dumps(msg) + "\n")
        p.stdin.flush()
        if "id" in msg:
            while True:
                line = p.stdout.readline()
                if not line:
                    raise SystemExit("the MCP server closed its output")
                r = json.loads(line)
                if r.get("id") == msg["id"]:
                    return r
    rpc({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": NAME + "-standin", "version": "1"}}})
    rpc({"jsonrpc": "2.0", "method": "notifications/initialized"})
    r = rpc({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": tool, "arguments": arguments}})
    p.stdin.close()
    p.wait(timeout=30)
    return r.get("result")


def run_hooks(settings, event, session_id, **fields):
    for group in (settings.get("hooks") or {}).get(event, []):
        matcher = group.get("matcher")
        if matcher not in (None, "", "*") and fields.get("tool_name") != matcher:
            continue
        for h in group.get("hooks", []):
            data = dict(fields, hook_event_name=event, session_id=session_id, cwd=os.getcwd(),
                        transcript_path="/nonexistent/transcript.jsonl")
            r = subprocess.run(["sh", "-c", h["command"]], input=json.dumps(data), text=True,
                               capture_output=True, timeout=h.get("timeout", 60))
            record(hook=event, exit=r.returncode, stdout=r.stdout, stderr=r.stderr)


def wait_for(var):
    path = os.environ.get(var)
    while path and not os.path.exists(path):
        time.sleep(0.1)


def main():
    argv = sys.argv[1:]
    if NAME == "claude":
        o = parse_claude(argv)
        servers = {}
        for c in o["mcp-config"]:
            servers.update(json.loads(c)["mcpServers"])
        settings = json.loads(o["settings"]) if o["settings"] else {}
        sid = o["session-id"] or o["resume"]
        record(argv=argv, parsed=o, servers=servers, settings=settings)
        run_hooks(settings, "UserPromptSubmit", sid, prompt=o["prompt"])
        run_hooks(settings, "PreToolUse", sid, tool_name="mcp__grove__log_checkpoint",
                  tool_input={"phase": "standin"})
        res = mcp_call(servers["grove"], "log_checkpoint",
                       {"phase": "standin", "message": o["prompt"] or ""})
        record(checkpoint=res)
        run_hooks(settings, "PostToolUse", sid, tool_name="mcp__grove__log_checkpoint")
        print("Do you want to proceed? (standin question)", flush=True)
        run_hooks(settings, "Notification", sid, notification_type="permission_prompt",
                  message="Claude needs your permission to use Bash")
        wait_for("STANDIN_GO")
        run_hooks(settings, "Stop", sid, stop_hook_active=False)
        wait_for("STANDIN_EXIT")
        run_hooks(settings, "SessionEnd", sid, reason="other")
        return
    if NAME == "codex":
        conf, positional, i = {}, [], 0
        while i < len(argv):
            if argv[i] == "-c":
                key, _, value = argv[i + 1].partition("=")
                conf[key] = tomllib.loads("v = " + value)["v"]
                i += 2
            elif argv[i] == "--":
                positional += argv[i + 1:]
                break
            else:
                positional.append(argv[i])
                i += 1
        record(argv=argv, config=conf, prompt=positional[-1] if positional else None)
        res = mcp_call(conf["mcp_servers.grove"], "log_checkpoint",
                       {"phase": "standin", "message": positional[-1] if positional else ""})
        record(checkpoint=res)
    elif NAME == "gemini":
        path = os.environ.get("GEMINI_CLI_SYSTEM_DEFAULTS_PATH")
        with open(path) as f:
            defaults = json.load(f)
        prompt, trusted, sid = None, False, None
        for k, a in enumerate(argv):
            if a in ("-i", "--prompt-interactive"):
                prompt = argv[k + 1]
            elif a.startswith("--prompt-interactive="):
                prompt = a.split("=", 1)[1]
            elif a == "--skip-trust":
                trusted = True
            elif a in ("--session-id", "--resume"):
                sid = argv[k + 1]
        if not trusted:
            raise SystemExit("gemini stand-in: an untrusted folder connects no MCP server")
        record(argv=argv, defaults=defaults, defaults_path=path, prompt=prompt, session=sid)
        res = mcp_call(defaults["mcpServers"]["grove"], "log_checkpoint",
                       {"phase": "standin", "message": prompt or ""})
        record(checkpoint=res)
    # each CLI's own way of asking before it runs a command
    print("Allow command? [y/n]" if NAME == "codex" else "Allow execution of [make test]?",
          flush=True)
    wait_for("STANDIN_EXIT")


if __name__ == "__main__":
    main()
