// End-to-end: grove through the MCP Inspector's command-line mode
// (@modelcontextprotocol/inspector-cli, `--cli`): tools, resources, prompts
// and logging as a person scripting the Inspector would use them. The
// Inspector CLI has no subscription or completion method; those are covered
// by sdk2.mjs and e2e.mjs.
// usage: node inspector.mjs /path/to/grove
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const grove = process.argv[2] && resolve(process.argv[2]);
assert.ok(grove && existsSync(grove), 'usage: node inspector.mjs /path/to/grove');
const cli = join(here, 'node_modules/@modelcontextprotocol/inspector-cli/build/index.js');

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'grove-inspector-')));
const repo = join(tmp, 'repo');
const env = { ...process.env, HOME: tmp, GIT_CONFIG_NOSYSTEM: '1' };
execFileSync('git', ['init', '-q', '-b', 'main', repo], { env });
execFileSync('bash', ['-c', 'echo hi > README.md && git add -A && git -c user.name=t -c user.email=t@t commit -qm init'], { cwd: repo, env });
// inspector-cli 1.0.3 finds its own package.json through "../package.json" relative to the
// working directory when that exists (it was written to run from inside its package): run it
// from a folder whose parent has one, and name the repository with --repo.
const cwd = join(tmp, 'pkg', 'run');
mkdirSync(cwd, { recursive: true });
execFileSync('cp', [join(here, 'node_modules/@modelcontextprotocol/inspector-cli/package.json'), join(tmp, 'pkg')]);

function inspect(...args) {
  const out = execFileSync('node', [cli, grove, 'serve', '--repo', repo, ...args],
    { cwd, env: { ...env, GROVE_LOG: 'error' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
  return JSON.parse(out.toString());
}

test('the Inspector CLI lists and calls tools', () => {
  const { tools } = inspect('--method', 'tools/list');
  assert.equal(tools.length, 17);
  assert.ok(tools.every((t) => t.inputSchema && t.description.length < 2048));
  const spawned = inspect('--method', 'tools/call', '--tool-name', 'spawn_work_instance',
    '--tool-arg', 'prompt=inspected', 'launch=false');
  assert.equal(spawned.isError, false, JSON.stringify(spawned));
  assert.match(spawned.structuredContent.instance.id, /^work-/);
  const listed = inspect('--method', 'tools/call', '--tool-name', 'query_instances');
  assert.equal(listed.structuredContent.instances.length, 1);
  const bad = inspect('--method', 'tools/call', '--tool-name', 'get_instance',
    '--tool-arg', 'instance_id=nope-1');
  assert.equal(bad.isError, true);
  assert.match(bad.content[0].text, /not found/);
});

test('the Inspector CLI reads resources and templates', () => {
  const { resources } = inspect('--method', 'resources/list');
  assert.ok(resources.some((r) => r.uri === 'grove://instances'));
  const { resourceTemplates } = inspect('--method', 'resources/templates/list');
  assert.ok(resourceTemplates.some((t) => t.uriTemplate === 'grove://instances/{id}/diff'));
  const read = inspect('--method', 'resources/read', '--uri', 'grove://instances');
  const running = JSON.parse(read.contents[0].text).instances;
  assert.equal(running.length, 1);
  const one = inspect('--method', 'resources/read', '--uri', `grove://instances/${running[0].id}`);
  assert.equal(JSON.parse(one.contents[0].text).instance.id, running[0].id);
});

test('the Inspector CLI gets prompts and sets the log level', () => {
  const { prompts } = inspect('--method', 'prompts/list');
  assert.deepEqual(prompts.map((p) => p.name).sort(), ['land', 'orchestrate', 'resume', 'review']);
  const got = inspect('--method', 'prompts/get', '--prompt-name', 'orchestrate',
    '--prompt-args', 'issues=12, 13');
  assert.match(got.messages[0].content.text, /spawn_work_instance/);
  assert.deepEqual(inspect('--method', 'logging/setLevel', '--log-level', 'error'), {});
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
