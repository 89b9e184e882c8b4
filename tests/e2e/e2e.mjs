// End-to-end: grove driven by the official MCP TypeScript SDK over stdio.
// usage: node e2e.mjs /path/to/grove
// The SDK validates every structuredContent against the tool's outputSchema
// (with ajv) on its own; this test adds assertions on the behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { makeRepo as makeRepoIn } from './repo.mjs';

const makeRepo = () => makeRepoIn();
const grove = process.argv[2] && resolve(process.argv[2]);
assert.ok(grove && existsSync(grove), 'usage: node e2e.mjs /path/to/grove');

async function connect(repo, env = {}) {
  const transport = new StdioClientTransport({
    command: grove,
    args: ['serve'],
    cwd: repo,
    env: { PATH: process.env.PATH, HOME: repo, GROVE_LOG: 'error', ...env },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'grove-e2e', version: '1.0.0' });
  await client.connect(transport);
  // Every progress notification as it arrives. The SDK hands them to `onprogress` one microtask
  // late while it handles a response at once, so a response read in the same chunk as the last
  // notifications drops those: counting them there would depend on timing.
  client.progressSeen = [];
  const deliver = transport.onmessage;
  transport.onmessage = (msg, extra) => {
    if (msg.method === 'notifications/progress') client.progressSeen.push(msg.params);
    deliver(msg, extra);
  };
  return client;
}

test('the official SDK drives grove: list, spawn, checkpoint, read back', async () => {
  const { tmp, repo, git } = makeRepo();
  const client = await connect(repo);
  try {
    assert.equal(client.getServerVersion().name, 'grove');
    assert.match(client.getInstructions(), /worktree/);

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, [
      'create_pull_request', 'fork_instance', 'get_checkpoint', 'get_conflicts', 'get_diff',
      'get_instance', 'land_instance',
      'log_checkpoint', 'query_events', 'query_instances', 'read_agent_output', 'resume_instance',
      'send_feedback', 'spawn_review_instance', 'spawn_work_instance', 'sync_instance',
      'terminate_instance',
    ]);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object');
      assert.equal(t.inputSchema.additionalProperties, false);
      assert.equal(typeof t.outputSchema, 'object');
      assert.equal(typeof t.title, 'string');
      for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'])
        assert.equal(typeof t.annotations[h], 'boolean', `${t.name}.${h}`);
    }

    // spawn with progress notifications
    const progress = [];
    const spawned = await client.callTool(
      { name: 'spawn_work_instance', arguments: { issue: 42, prompt: 'implement the feature' } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    assert.equal(spawned.isError, false, JSON.stringify(spawned));
    const inst = spawned.structuredContent.instance;
    assert.equal(inst.id, 'work-42-a1');
    assert.equal(inst.type, 'work');
    assert.equal(inst.status, 'running');
    assert.equal(inst.issue, 42);
    assert.equal(inst.branch_name, 'grove/work-42-a1');
    assert.equal(inst.base_branch, 'main');
    assert.equal(inst.worktree_path, join(tmp, 'repo.worktrees', 'work-42-a1'));
    assert.ok(existsSync(join(inst.worktree_path, 'src', 'a.txt')));
    assert.deepEqual(JSON.parse(spawned.content[0].text), spawned.structuredContent);
    const token = client.progressSeen.length ? client.progressSeen[0].progressToken : undefined;
    const steps = client.progressSeen.filter((p) => p.progressToken === token).map((p) => p.progress);
    assert.ok(steps.length >= 3, `progress: ${steps}`);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i] > steps[i - 1], `progress: ${steps}`);
    assert.equal(steps[steps.length - 1], 6, `progress: ${steps}`); // spawn's last step: done
    // What the SDK did hand over is a prefix of what was sent. How much of it depends on
    // timing (see connect()): when the notifications arrive in the same read as the response,
    // the SDK hands over none, so the count is not asserted.
    assert.deepEqual(progress, steps.slice(0, progress.length));
    const listed = git('worktree', 'list', '--porcelain').toString();
    assert.match(listed, new RegExp(`worktree ${inst.worktree_path}\n`));

    // checkpoints
    const cp1 = await client.callTool({ name: 'log_checkpoint', arguments: {
      instance_id: inst.id, phase: 'plan', name: 'outline', status: 'completed',
      data: { steps: ['a', 'b'] }, message: 'planned' } });
    assert.equal(cp1.isError, false, JSON.stringify(cp1));
    assert.equal(cp1.structuredContent.checkpoint.sequence, 1);
    assert.equal(cp1.structuredContent.checkpoint.commit_sha, inst.base_commit);
    // a commit in the worktree: the next checkpoint names the worktree's new HEAD
    execFileSync('bash', ['-c', 'echo impl > impl.txt && git add impl.txt && git -c user.name=e -c user.email=e@e commit -qm impl'], { cwd: inst.worktree_path });
    const wtHead = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: inst.worktree_path }).toString().trim();
    assert.notEqual(wtHead, inst.base_commit);
    const cp2 = await client.callTool({ name: 'log_checkpoint', arguments: {
      instance_id: inst.id, phase: 'implement' } });
    assert.equal(cp2.structuredContent.checkpoint.sequence, 2);
    assert.equal(cp2.structuredContent.checkpoint.commit_sha, wtHead);
    assert.equal(cp2.structuredContent.checkpoint.status, 'in_progress');

    const latest = await client.callTool({ name: 'get_checkpoint', arguments: { instance_id: inst.id } });
    assert.equal(latest.structuredContent.checkpoint.phase, 'implement');
    const plan = await client.callTool({ name: 'get_checkpoint', arguments: { instance_id: inst.id, phase: 'plan' } });
    assert.deepEqual(plan.structuredContent.checkpoint.data, { steps: ['a', 'b'] });
    const none = await client.callTool({ name: 'get_checkpoint', arguments: { instance_id: inst.id, phase: 'ship' } });
    assert.equal(none.structuredContent.checkpoint, null);

    // queries
    const q = await client.callTool({ name: 'query_instances', arguments: { issue: '42' } });
    assert.deepEqual(q.structuredContent.instances.map((i) => i.id), ['work-42-a1']);
    const g = await client.callTool({ name: 'get_instance', arguments: { instance_id: inst.id } });
    assert.equal(g.structuredContent.last_checkpoint.sequence, 2);
    assert.deepEqual(g.structuredContent.git, { head: wtHead, ahead: 1, behind: 0, dirty_files: [] });
    const ev = await client.callTool({ name: 'query_events', arguments: { tool: 'log_checkpoint' } });
    assert.equal(ev.structuredContent.events.length, 2);
    assert.equal(ev.structuredContent.events[0].metadata.phase, 'implement');

    // failures are isError results the model can read
    const bad = await client.callTool({ name: 'get_instance', arguments: { instance_id: 'work-a404' } });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /work-a404/);
    const invalid = await client.callTool({ name: 'query_instances', arguments: { limit: 1000 } });
    assert.equal(invalid.isError, true);
    assert.match(invalid.content[0].text, /limit/);
  } finally {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('a second client sees what the first recorded (one database per repository)', async () => {
  const { tmp, repo } = makeRepo();
  try {
    const a = await connect(repo);
    const s = await a.callTool({ name: 'spawn_work_instance', arguments: {} });
    const id = s.structuredContent.instance.id;
    await a.callTool({ name: 'log_checkpoint', arguments: { instance_id: id, phase: 'p1' } });
    await a.close();
    const b = await connect(repo, { GROVE_INSTANCE_ID: id });
    const cp = await b.callTool({ name: 'get_checkpoint', arguments: {} });
    assert.equal(cp.structuredContent.checkpoint.phase, 'p1');
    assert.equal(cp.structuredContent.checkpoint.instance_id, id);
    await b.close();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('review, fork, feedback into a live tmux session, liveness and terminate through the SDK', async () => {
  const { tmp, repo, git } = makeRepo();
  const tmuxDir = join(tmp, 'tmux');
  execFileSync('mkdir', ['-p', tmuxDir]);
  execFileSync('bash', ['-c', 'printf ".agent-input\\n" >> .git/info/exclude'], { cwd: repo });
  const agentEnv = {
    GROVE_AGENT_COMMAND: JSON.stringify(['sh', '-c', 'cat > .agent-input']),
    TMUX_TMPDIR: tmuxDir,
  };
  const tmux = (...args) => execFileSync('tmux', ['-L', 'grove', ...args], { env: { ...process.env, TMUX_TMPDIR: tmuxDir }, stdio: 'pipe' });
  const client = await connect(repo, agentEnv);
  try {
    const work = (await client.callTool({ name: 'spawn_work_instance', arguments: { issue: 'bd-e2e', prompt: 'work' } })).structuredContent.instance;
    assert.equal(work.id, 'work-bd-e2e-a1');
    assert.equal(work.session_name, 'grove-work-bd-e2e-a1');
    assert.ok(work.pid > 0);
    tmux('has-session', '-t', '=grove-work-bd-e2e-a1');

    execFileSync('bash', ['-c', 'echo change > f.txt && git add f.txt && git -c user.name=e -c user.email=e@e commit -qm f'], { cwd: work.worktree_path });
    const rev = await client.callTool({ name: 'spawn_review_instance', arguments: { work_instance_id: work.id, launch: false } });
    assert.equal(rev.isError, false, JSON.stringify(rev));
    const review = rev.structuredContent.instance;
    assert.equal(review.type, 'review');
    assert.equal(review.parent_id, work.id);
    assert.equal(review.session_name, null);
    assert.deepEqual(rev.structuredContent.diff_stat, { files_changed: 1, insertions: 1, deletions: 0 });
    assert.equal(rev.structuredContent.reviewed_commit, git('rev-parse', `grove/${work.id}`).toString().trim());

    const again = await client.callTool({ name: 'spawn_review_instance', arguments: { work_instance_id: review.id } });
    assert.equal(again.isError, true);
    assert.match(again.content[0].text, /review instance may not spawn/);

    const fork = (await client.callTool({ name: 'fork_instance', arguments: { instance_id: work.id, launch: false } })).structuredContent.instance;
    assert.equal(fork.type, 'work');
    assert.equal(fork.parent_id, work.id);

    const fb = await client.callTool({ name: 'send_feedback', arguments: { instance_id: work.id, feedback: 'ship it "now" $(no)', feedback_type: 'approved' } });
    assert.equal(fb.structuredContent.delivered, true, JSON.stringify(fb));
    const inputPath = join(work.worktree_path, '.agent-input');
    let typed = '';
    for (let i = 0; i < 200 && !typed.includes('ship it'); i++) {
      await new Promise((r) => setTimeout(r, 25));
      try { typed = (await import('node:fs')).readFileSync(inputPath, 'utf8'); } catch { /* not yet */ }
    }
    assert.equal(typed, '[grove feedback from a user: approved, priority medium] ship it "now" $(no)\n');

    const g = (await client.callTool({ name: 'get_instance', arguments: { instance_id: work.id } })).structuredContent;
    assert.deepEqual(g.relationships.map((r) => r.relationship_type).sort(), ['created_fork', 'spawned_review']);
    assert.equal(g.git.ahead, 1);

    // liveness: the session dies, the next read says terminated
    tmux('kill-session', '-t', '=grove-work-bd-e2e-a1');
    // the agent process gets SIGHUP with its session and exits a moment later
    let q;
    for (let i = 0; i < 100; i++) {
      const r = await client.callTool({ name: 'query_instances', arguments: { status: 'terminated' } });
      assert.equal(r.isError, false, JSON.stringify(r));
      q = r.structuredContent;
      if (q.instances.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(q.instances.map((i) => i.id), [work.id]);
    assert.ok(q.instances[0].terminated_at);

    // removal is refused while work would be lost (a commit only the fork has), then forced
    execFileSync('bash', ['-c', 'echo fork > g.txt && git add g.txt && git -c user.name=e -c user.email=e@e commit -qm g'], { cwd: fork.worktree_path });
    const refused = await client.callTool({ name: 'terminate_instance', arguments: { instance_id: fork.id, remove_worktree: true } });
    assert.equal(refused.isError, true);
    assert.match(refused.content[0].text, /1 commit/);
    const forced = await client.callTool({ name: 'terminate_instance', arguments: { instance_id: fork.id, remove_worktree: true, force: true } });
    assert.equal(forced.structuredContent.worktree_removed, true);
    assert.equal(forced.structuredContent.instance.status, 'terminated');
    assert.ok(!existsSync(fork.worktree_path));
  } finally {
    await client.close();
    try { tmux('kill-server'); } catch { /* no server left */ }
    rmSync(tmp, { recursive: true, force: true });
  }
});

// The test GitHub server (fake-github.mjs) checks every request against
// GitHub's published REST description; grove talks to it through GITHUB_API_URL.
async function startFakeGitHub(token) {
  const { spawn } = await import('node:child_process');
  const here = new URL('.', import.meta.url).pathname;
  const child = spawn(process.execPath, [join(here, 'fake-github.mjs'), '--port', '0', '--token', token],
    { stdio: ['pipe', 'pipe', 'pipe'] });
  const port = await new Promise((resolvePort, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = buf.match(/listening (\d+)/);
      if (m) resolvePort(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`fake GitHub exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

test('create_pull_request against the test GitHub server: twice without a duplicate, errors in full, no token anywhere', async () => {
  const token = 'ghp_e2eSECRETtoken1234567890abcdefABCDEF';
  const gh = await startFakeGitHub(token);
  const { tmp, repo, git } = makeRepo();
  execFileSync('git', ['init', '-q', '--bare', join(tmp, 'origin.git')]);
  git('remote', 'add', 'origin', join(tmp, 'origin.git'));
  const env = { GITHUB_API_URL: gh.url, GITHUB_REPOSITORY: 'acme/widgets', GITHUB_TOKEN: token };
  const stderrChunks = [];
  const transport = new StdioClientTransport({
    command: grove, args: ['serve'], cwd: repo, stderr: 'pipe',
    env: { PATH: process.env.PATH, HOME: tmp, GROVE_LOG: 'debug', ...env },
  });
  transport.stderr.on('data', (d) => stderrChunks.push(d));
  const client = new Client({ name: 'grove-e2e-pr', version: '1.0.0' });
  await client.connect(transport);
  const results = [];
  const call = async (name, args) => {
    const r = await client.callTool({ name, arguments: args });
    results.push(JSON.stringify(r));
    return r;
  };
  try {
    const inst = (await call('spawn_work_instance', { issue: 42 })).structuredContent.instance;
    execFileSync('bash', ['-c', 'echo feat > feat.txt && git add feat.txt && git -c user.name=e -c user.email=e@e commit -qm feat'], { cwd: inst.worktree_path });

    const first = await call('create_pull_request', { instance_id: inst.id, title: 'Add feat', description: 'Body text', draft: true });
    assert.equal(first.isError, false, JSON.stringify(first));
    const pr = first.structuredContent;
    assert.equal(pr.pushed, true);
    assert.equal(pr.already_existed, false);
    assert.ok(Number.isInteger(pr.pr_number) && pr.pr_number > 0);
    assert.match(pr.pr_url, /^https?:\/\/.+\/pull\/\d+$/);
    assert.equal(pr.branch_name, 'grove/work-42-a1');
    assert.equal(pr.base_branch, 'main');
    assert.equal(pr.head_commit, git('rev-parse', 'grove/work-42-a1').toString().trim());

    const second = await call('create_pull_request', { instance_id: inst.id, title: 'Add feat' });
    assert.equal(second.isError, false, JSON.stringify(second));
    assert.equal(second.structuredContent.already_existed, true);
    assert.equal(second.structuredContent.pr_number, pr.pr_number);

    const got = (await call('get_instance', { instance_id: inst.id })).structuredContent.instance;
    assert.equal(got.pr_number, pr.pr_number);
    assert.equal(got.pr_url, pr.pr_url);

    // what grove sent, as the test server recorded it
    const sent = await (await fetch(`${gh.url}/_grove/requests`)).json();
    const creates = sent.filter((r) => r.method === 'POST');
    assert.equal(creates.length, 2);
    assert.deepEqual(creates[0].body, { title: 'Add feat', head: 'grove/work-42-a1', base: 'main', body: 'Body text', draft: true });
    assert.ok(sent.some((r) => r.method === 'GET' && /\/issues\/42$/.test(r.path)), 'the issue is fetched at spawn');
    // ... and cached with its title, state, URL and the names of its labels
    const cached = JSON.parse(execFileSync('python3', ['-c', `
import json, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
print(json.dumps(con.execute("SELECT repo, number, title, state, html_url, labels FROM grove_github_issues").fetchall()))
`, join(repo, '.git', 'grove', 'grove.db')]).toString());
    assert.deepEqual(cached, [['acme/widgets', 42, 'Issue 42', 'open', cached[0][4], '["bug","good first issue"]']]);
    assert.match(cached[0][4], /\/acme\/widgets\/issues\/42$/);

    // GitHub's validation errors are passed on in full
    const inst2 = (await call('spawn_work_instance', {})).structuredContent.instance;
    execFileSync('bash', ['-c', 'echo x > x.txt && git add x.txt && git -c user.name=e -c user.email=e@e commit -qm x'], { cwd: inst2.worktree_path });
    const bad = await call('create_pull_request', { instance_id: inst2.id, title: 'trigger-validation-error' });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /Validation Failed/);
    assert.match(bad.content[0].text, /title/);
    assert.match(bad.content[0].text, /invalid/);
  } finally {
    await client.close();
    gh.child.kill('SIGTERM');
  }
  // the token is nowhere: database, WAL, stderr, tool results
  const { readFileSync, readdirSync } = await import('node:fs');
  const dbDir = join(repo, '.git', 'grove');
  for (const f of readdirSync(dbDir)) {
    if (f.startsWith('grove.db')) assert.ok(!readFileSync(join(dbDir, f)).includes(token), `token in ${f}`);
  }
  assert.ok(!Buffer.concat(stderrChunks).includes(token), 'token in stderr');
  for (const r of results) assert.ok(!r.includes(token), 'token in a tool result');
  rmSync(tmp, { recursive: true, force: true });
});

test('get_diff through the SDK: committed, uncommitted and untracked changes, as git diff shows them', async () => {
  const { tmp, repo, git } = makeRepo();
  const client = await connect(repo);
  try {
    const inst = (await client.callTool({ name: 'spawn_work_instance', arguments: { launch: false } })).structuredContent.instance;
    const sh = (cmd, cwd) => execFileSync('bash', ['-c', cmd], { cwd });
    sh('git mv src/a.txt src/b.txt && echo more >> README.md && git -c user.name=e -c user.email=e@e commit -qam work', inst.worktree_path);
    sh('echo main > main.txt && git add main.txt && git -c user.name=e -c user.email=e@e commit -qm main-moves', repo);
    sh('echo draft > draft.txt && echo staged >> README.md && git add README.md', inst.worktree_path);

    const d = await client.callTool({ name: 'get_diff', arguments: { instance_id: inst.id } });
    assert.equal(d.isError, false, JSON.stringify(d));
    const r = d.structuredContent;
    assert.deepEqual(JSON.parse(d.content[0].text), r);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: inst.worktree_path }).toString().trim();
    assert.equal(r.to_commit, head);
    assert.equal(r.from_commit, git('rev-parse', 'main').toString().trim());
    assert.equal(r.merge_base, inst.base_commit);
    assert.equal(r.uncommitted_included, true);
    assert.equal(r.truncated, false);
    assert.deepEqual(r.files.map((f) => [f.path, f.old_path, f.status, f.insertions, f.deletions, f.binary]), [
      ['README.md', null, 'modified', 2, 0, false],
      ['draft.txt', null, 'added', 1, 0, false],
      ['src/b.txt', 'src/a.txt', 'renamed', 0, 0, false],
    ]);
    assert.deepEqual(r.stat, { files_changed: 3, insertions: 3, deletions: 0 });
    assert.match(r.patch, /^diff --git a\/README.md b\/README.md\n/);
    assert.match(r.patch, /\nsimilarity index 100%\nrename from src\/a.txt\nrename to src\/b.txt\n/);
    assert.ok(!r.patch.includes('main.txt'), 'the diff starts at the merge base');

    // commits only equal `git diff <merge base> <head>` byte for byte
    const c = (await client.callTool({ name: 'get_diff', arguments: { instance_id: inst.id, include_uncommitted: false } })).structuredContent;
    assert.equal(c.patch, git('diff', r.merge_base, head).toString());
    const cut = (await client.callTool({ name: 'get_diff', arguments: { instance_id: inst.id, max_bytes: 40 } })).structuredContent;
    assert.equal(cut.truncated, true);
    assert.deepEqual(cut.files, r.files);
    assert.ok(r.patch.startsWith(cut.patch));

    // one result is at most 4 MiB (contract §5), measured as its text block (the compact JSON
    // escaped once more), so that the whole response stays under the SDK's 10 MiB read limit:
    // a patch whose escaping doubles it is cut further, after a whole line, files and stat whole
    sh(`python3 -c 'import sys; sys.stdout.write("\\"\\\\\\t\\"\\n" * 1000000)' > big.txt`, inst.worktree_path);
    const big = await client.callTool({ name: 'get_diff', arguments: { instance_id: inst.id, max_bytes: 4194304 } });
    assert.equal(big.isError, false, JSON.stringify(big).slice(0, 500));
    const b = big.structuredContent;
    assert.deepEqual(JSON.parse(big.content[0].text), b);
    const size = Buffer.byteLength(JSON.stringify(big.content[0].text));
    assert.ok(size <= 4194304 && size > 4194304 - 65536, `${size} bytes`);
    assert.equal(b.truncated, true);
    assert.ok(b.patch.endsWith('\n'));
    assert.deepEqual(b.files.find((f) => f.path === 'big.txt'), { path: 'big.txt', old_path: null, status: 'added', insertions: 1000000, deletions: 0, binary: false });
    assert.equal(b.stat.insertions, 1000003);

    const bad = await client.callTool({ name: 'get_diff', arguments: { instance_id: inst.id, against: 'no-such-branch' } });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /no-such-branch/);
  } finally {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('get_conflicts through the SDK: pairs, the base branch, and get_instance\'s summary', async () => {
  const { tmp, repo, git, env } = makeRepo();
  const client = await connect(repo);
  try {
    const spawn = async (issue) => (await client.callTool({ name: 'spawn_work_instance', arguments: { issue, launch: false } })).structuredContent.instance;
    const one = await spawn(1);
    const two = await spawn(2);
    const commit = (wt, text) => execFileSync('bash', ['-ec', `echo '${text}' > src/a.txt && git commit -qam '${text}'`], { cwd: wt, env });
    commit(one.worktree_path, 'one');
    commit(two.worktree_path, 'two');
    execFileSync('bash', ['-ec', 'echo moved >> README.md && git commit -qam moved'], { cwd: repo, env });
    const before = git('for-each-ref').toString();

    const r = await client.callTool({ name: 'get_conflicts', arguments: {} });
    assert.equal(r.isError, false, JSON.stringify(r));
    const c = r.structuredContent;
    assert.deepEqual(JSON.parse(r.content[0].text), c);
    assert.match(c.checked_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(c.pairs, [{ a: one.id, b: two.id, overlapping_files: ['src/a.txt'], conflicting_files: ['src/a.txt'] }]);
    assert.deepEqual(c.with_base, [
      { instance_id: one.id, behind: 1, conflicting_files: [] },
      { instance_id: two.id, behind: 1, conflicting_files: [] },
    ]);
    assert.deepEqual(c.skipped, []);
    assert.equal(git('for-each-ref').toString(), before);

    const g = (await client.callTool({ name: 'get_instance', arguments: { instance_id: two.id } })).structuredContent;
    assert.deepEqual(g.conflicts, { with: [one.id], with_base: 0 });

    const bad = await client.callTool({ name: 'get_conflicts', arguments: { instance_id: 'work-a404' } });
    assert.equal(bad.isError, true);
    assert.match(bad.content[0].text, /not found/);
  } finally {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('sync_instance through the SDK: rebase onto the moved base, then a conflict that changes nothing', async () => {
  const { tmp, repo, git } = makeRepo();
  const client = await connect(repo);
  try {
    const inst = (await client.callTool({ name: 'spawn_work_instance', arguments: {} })).structuredContent.instance;
    const wtGit = (...args) => execFileSync('git', args, { cwd: inst.worktree_path, stdio: 'pipe' }).toString().trim();
    execFileSync('bash', ['-c', 'echo mine > mine.txt && git add mine.txt && git -c user.name=e -c user.email=e@e commit -qm mine'], { cwd: inst.worktree_path });
    execFileSync('bash', ['-c', 'echo base > base.txt && git add base.txt && git commit -qm base'], { cwd: repo });
    const base = git('rev-parse', 'main').toString().trim();

    const synced = await client.callTool({ name: 'sync_instance', arguments: { instance_id: inst.id } });
    assert.equal(synced.isError, false, JSON.stringify(synced));
    const r = synced.structuredContent;
    assert.equal(r.synced, true);
    assert.equal(r.strategy, 'rebase');
    assert.equal(r.base_head, base);
    assert.notEqual(r.new_head, r.old_head);
    assert.deepEqual(r.conflicting_files, []);
    assert.equal(wtGit('rev-parse', 'HEAD'), r.new_head);
    assert.equal(wtGit('rev-parse', 'HEAD~1'), base);
    assert.equal(wtGit('status', '--porcelain'), '');
    assert.ok(existsSync(join(inst.worktree_path, 'base.txt')));
    assert.deepEqual(JSON.parse(synced.content[0].text), r);

    // both sides change base.txt: synced false, the file named, the branch where it was
    execFileSync('bash', ['-c', 'echo theirs > base.txt && git -c user.name=e -c user.email=e@e commit -qam theirs'], { cwd: inst.worktree_path });
    execFileSync('bash', ['-c', 'echo ours > base.txt && git commit -qam ours'], { cwd: repo });
    const head = wtGit('rev-parse', 'HEAD');
    const conflict = await client.callTool({ name: 'sync_instance', arguments: { instance_id: inst.id, strategy: 'merge' } });
    assert.equal(conflict.isError, false, JSON.stringify(conflict));
    assert.equal(conflict.structuredContent.synced, false);
    assert.deepEqual(conflict.structuredContent.conflicting_files, ['base.txt']);
    assert.equal(wtGit('rev-parse', 'HEAD'), head);
    assert.equal(wtGit('status', '--porcelain'), '');

    const dirty = await client.callTool({ name: 'sync_instance', arguments: { instance_id: inst.id, strategy: 'merge' } });
    assert.equal(dirty.isError, false); // still the same conflict: nothing changed in between
    execFileSync('bash', ['-c', 'echo wip > wip.txt'], { cwd: inst.worktree_path });
    const refused = await client.callTool({ name: 'sync_instance', arguments: { instance_id: inst.id } });
    assert.equal(refused.isError, true);
    assert.match(refused.content[0].text, /wip\.txt/);
    assert.match(refused.content[0].text, /commit or stash/);
  } finally {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('land_instance through the SDK: dry run, squash into the checked-out main, then a conflict that changes nothing', async () => {
  const { tmp, repo, git } = makeRepo();
  const client = await connect(repo);
  try {
    const spawn = async () => (await client.callTool({ name: 'spawn_work_instance', arguments: { launch: false } })).structuredContent.instance;
    const inst = await spawn();
    const other = await spawn();
    const commit = (wt, file, text) => execFileSync('bash', ['-c', `echo ${text} > ${file} && git add ${file} && git -c user.name=e -c user.email=e@e commit -qm ${text}`], { cwd: wt });
    commit(inst.worktree_path, 'feature.txt', 'feature');
    commit(other.worktree_path, 'feature.txt', 'rival');
    const before = git('rev-parse', 'main').toString().trim();

    const dry = await client.callTool({ name: 'land_instance', arguments: { instance_id: inst.id, dry_run: true } });
    assert.equal(dry.isError, false, JSON.stringify(dry));
    assert.equal(dry.structuredContent.landed, false);
    assert.equal(dry.structuredContent.old_into_commit, before);
    assert.equal(git('rev-parse', 'main').toString().trim(), before);

    const landed = await client.callTool({ name: 'land_instance', arguments: { instance_id: inst.id, message: 'Add the feature' } });
    assert.equal(landed.isError, false, JSON.stringify(landed));
    const r = landed.structuredContent;
    assert.deepEqual(JSON.parse(landed.content[0].text), r);
    assert.equal(r.landed, true);
    assert.equal(r.strategy, 'squash');
    assert.equal(r.into, 'main');
    assert.equal(r.old_into_commit, before);
    assert.equal(git('rev-parse', 'main').toString().trim(), r.new_into_commit);
    assert.equal(git('log', '-1', '--format=%s', 'main').toString().trim(), 'Add the feature');
    assert.equal(git('rev-parse', 'main^').toString().trim(), before); // one commit, one parent
    assert.equal(readFileSync(join(repo, 'feature.txt'), 'utf8'), 'feature\n'); // the checkout follows
    assert.equal(git('status', '--porcelain').toString(), '');
    assert.equal(r.instance.landed_commit, r.new_into_commit);
    assert.deepEqual(r.now_conflicting.map((c) => [c.instance_id, c.conflicting_files]), [[other.id, ['feature.txt']]]);

    // the rival adds the same file: not landed, nothing moves
    const clash = await client.callTool({ name: 'land_instance', arguments: { instance_id: other.id } });
    assert.equal(clash.isError, false, JSON.stringify(clash));
    assert.equal(clash.structuredContent.landed, false);
    assert.deepEqual(clash.structuredContent.conflicting_files, ['feature.txt']);
    assert.equal(git('rev-parse', 'main').toString().trim(), r.new_into_commit);
    assert.equal(git('status', '--porcelain').toString(), '');
  } finally {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('agents through the SDK: best-of-N, agent_state from tmux, read_agent_output, an exit, resume_instance', async () => {
  const { tmp, repo } = makeRepo();
  const tmuxDir = join(tmp, 'tmux');
  execFileSync('mkdir', ['-p', tmuxDir]);
  execFileSync('bash', ['-c', 'printf ".go\\n" >> .git/info/exclude'], { cwd: repo });
  // prints, asks, waits for .go in its worktree, says bye and exits
  const agent = ['sh', '-c', 'printf "\\033[32mstarted\\033[0m %s\\nProceed? [y/n]\\n" "$1"; while [ ! -e .go ]; do sleep 0.1; done; echo bye; exit 2', 'sh', '{prompt}'];
  const env = { GROVE_AGENT_COMMAND: JSON.stringify(agent), TMUX_TMPDIR: tmuxDir };
  const client = await connect(repo, env);
  try {
    const made = await client.callTool({ name: 'spawn_work_instance', arguments: { prompt: 'task', count: 2 } });
    assert.equal(made.isError, false, JSON.stringify(made));
    const ids = made.structuredContent.instances.map((i) => i.id);
    assert.deepEqual(ids, ['work-a1', 'work-a2']);
    assert.equal(made.structuredContent.instance.id, 'work-a1');
    for (const i of made.structuredContent.instances) {
      assert.equal(i.agent_profile, 'custom');
      assert.equal(i.agent_state, 'starting');
    }
    // its output, without escapes; the state follows tmux
    let out;
    for (let k = 0; k < 100; k++) {
      out = (await client.callTool({ name: 'read_agent_output', arguments: { instance_id: 'work-a1' } })).structuredContent;
      if (out.text.includes('Proceed')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(out.text, 'started task\nProceed? [y/n]');
    assert.equal(out.lines, 2);
    assert.match(out.captured_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const listed = (await client.callTool({ name: 'query_instances', arguments: { agent_state: 'exited' } })).structuredContent;
    assert.deepEqual(listed.instances, []);

    // it exits: terminated, exited, and its last output stays
    execFileSync('touch', [join(made.structuredContent.instances[0].worktree_path, '.go')]);
    let inst;
    for (let k = 0; k < 100; k++) {
      inst = (await client.callTool({ name: 'get_instance', arguments: { instance_id: 'work-a1' } })).structuredContent.instance;
      if (inst.status === 'terminated') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(inst.agent_state, 'exited');
    const last = (await client.callTool({ name: 'read_agent_output', arguments: { instance_id: 'work-a1', lines: 1 } })).structuredContent;
    assert.deepEqual([last.text, last.lines, last.agent_state], ['bye', 1, 'exited']);
    const exited = (await client.callTool({ name: 'query_instances', arguments: { agent_state: 'exited' } })).structuredContent;
    assert.deepEqual(exited.instances.map((i) => i.id), ['work-a1']);

    // resume: running again in the same worktree
    execFileSync('rm', [join(inst.worktree_path, '.go')]);
    const resumed = await client.callTool({ name: 'resume_instance', arguments: { instance_id: 'work-a1', prompt: 'again' } });
    assert.equal(resumed.isError, false, JSON.stringify(resumed));
    assert.equal(resumed.structuredContent.instance.status, 'running');
    assert.equal(resumed.structuredContent.instance.worktree_path, inst.worktree_path);
    const twice = await client.callTool({ name: 'resume_instance', arguments: { instance_id: 'work-a1' } });
    assert.equal(twice.isError, true);
    assert.match(twice.content[0].text, /still running/);
  } finally {
    await client.close();
    try { execFileSync('tmux', ['-L', 'grove', 'kill-server'], { env: { ...process.env, TMUX_TMPDIR: tmuxDir }, stdio: 'pipe' }); } catch { /* gone */ }
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('prompts, completions and logging through the SDK', async () => {
  const { tmp, repo, git } = makeRepo();
  const client = await connect(repo);
  try {
    const caps = client.getServerCapabilities();
    assert.deepEqual(caps.prompts, { listChanged: false });
    assert.deepEqual(caps.completions, {});
    assert.deepEqual(caps.logging, {});

    const { prompts } = await client.listPrompts();
    assert.deepEqual(prompts.map((p) => p.name), ['orchestrate', 'review', 'land', 'resume']);
    assert.equal(prompts[1].arguments[0].name, 'instance_id');
    assert.equal(prompts[1].arguments[0].required, true);

    await client.callTool({ name: 'spawn_work_instance', arguments: { issue: '12', launch: false, count: 2 } });
    await client.callTool({ name: 'terminate_instance', arguments: { instance_id: 'work-12-a1' } });

    const got = await client.getPrompt({ name: 'land', arguments: { instance_id: 'work-12-a2' } });
    assert.equal(got.messages.length, 1);
    assert.equal(got.messages[0].role, 'user');
    const text = got.messages[0].content.text;
    assert.match(text, /Branch grove\/work-12-a2 from main at [0-9a-f]{40}/);
    assert.match(text, /land_instance \{instance_id: "work-12-a2", dry_run: true\}/);
    assert.ok(Buffer.byteLength(text) < 4096);
    await assert.rejects(client.getPrompt({ name: 'land', arguments: { instance_id: 'work-99-a1' } }),
      (e) => e.code === -32602 && /instance 'work-99-a1' not found/.test(e.message));
    await assert.rejects(client.getPrompt({ name: 'review', arguments: {} }),
      (e) => e.code === -32602 && /needs argument 'instance_id'/.test(e.message));
    await assert.rejects(client.getPrompt({ name: 'deploy' }), (e) => e.code === -32602);

    // running first, then terminated; prefix-matched
    let c = await client.complete({ ref: { type: 'ref/prompt', name: 'resume' }, argument: { name: 'instance_id', value: 'work-1' } });
    assert.deepEqual(c.completion, { values: ['work-12-a2', 'work-12-a1'], total: 2, hasMore: false });
    c = await client.complete({ ref: { type: 'ref/resource', uri: 'grove://instances/{id}' }, argument: { name: 'id', value: 'zzz' } });
    assert.deepEqual(c.completion.values, []);
    c = await client.complete({ ref: { type: 'ref/resource', uri: 'grove://x/{agent}' }, argument: { name: 'agent', value: 'co' } });
    assert.deepEqual(c.completion.values, ['codex']);

  } finally {
    await client.close();
  }
  // logging: a setting ignored because the database is not private (trust is judged when a
  // server opens it: a new one) is a warning
  execFileSync(grove, ['config', 'set', 'agent.profiles', '{"mine":{"command":["true"]}}'], { cwd: repo, stdio: 'pipe' });
  execFileSync('chmod', ['644', join(repo, '.git', 'grove', 'grove.db')]);
  const logger = await connect(repo);
  try {
    const client = logger;
    const messages = [];
    const { LoggingMessageNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => messages.push(n.params));
    await client.complete({ ref: { type: 'ref/resource', uri: 'grove://x/{agent}' }, argument: { name: 'agent', value: '' } });
    assert.equal(messages.length, 0, 'nothing before logging/setLevel');
    await client.setLoggingLevel('warning');
    await client.complete({ ref: { type: 'ref/resource', uri: 'grove://x/{agent}' }, argument: { name: 'agent', value: '' } });
    assert.equal(messages.length, 1);
    assert.equal(messages[0].level, 'warning');
    assert.equal(messages[0].logger, 'grove');
    assert.equal(messages[0].data.event, 'setting_ignored');
    await client.setLoggingLevel('error');
    await client.complete({ ref: { type: 'ref/resource', uri: 'grove://x/{agent}' }, argument: { name: 'agent', value: '' } });
    assert.equal(messages.length, 1, 'nothing below the level');
    await assert.rejects(client.request({ method: 'logging/setLevel', params: { level: 'loud' } },
      (await import('@modelcontextprotocol/sdk/types.js')).EmptyResultSchema), (e) => e.code === -32602);
  } finally {
    await logger.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('resources through the SDK: list, templates, read, and a subscription that fires for another process\'s change', async () => {
  const { tmp, repo } = makeRepo();
  const { ResourceUpdatedNotificationSchema, ResourceListChangedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
  const client = await connect(repo);
  try {
    const inst = (await client.callTool({ name: 'spawn_work_instance', arguments: { prompt: 'res', launch: false } })).structuredContent.instance;
    const { resources } = await client.listResources();
    assert.deepEqual(resources.map((r) => r.uri), ['grove://instances', 'grove://events', `grove://instances/${inst.id}`]);
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), ['grove://instances/{id}', 'grove://instances/{id}/diff', 'grove://instances/{id}/checkpoints', 'grove://instances/{id}/output']);
    const read = await client.readResource({ uri: `grove://instances/${inst.id}` });
    assert.equal(read.contents[0].mimeType, 'application/json');
    assert.equal(JSON.parse(read.contents[0].text).instance.id, inst.id);
    await assert.rejects(client.readResource({ uri: 'grove://instances/work-99-a1' }), /not found/);

    const updated = [];
    let listChanged = 0;
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updated.push(n.params.uri); });
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => { listChanged++; });
    await client.subscribeResource({ uri: `grove://instances/${inst.id}` });
    // another grove process changes the instance, and another makes a new one
    execFileSync(grove, ['call', 'log_checkpoint', JSON.stringify({ instance_id: inst.id, phase: 'from-outside' })], { cwd: repo, env: { ...process.env, HOME: repo, GROVE_LOG: 'error' } });
    execFileSync(grove, ['call', 'spawn_work_instance', JSON.stringify({ prompt: 'two', launch: false })], { cwd: repo, env: { ...process.env, HOME: repo, GROVE_LOG: 'error' } });
    for (let k = 0; k < 60 && (updated.length === 0 || listChanged === 0); k++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(updated, [`grove://instances/${inst.id}`]);
    assert.equal(listChanged, 1);
    const cps = await client.readResource({ uri: `grove://instances/${inst.id}/checkpoints` });
    assert.deepEqual(JSON.parse(cps.contents[0].text).checkpoints.map((c) => c.phase), ['from-outside']);
  } finally {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
