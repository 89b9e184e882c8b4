// End-to-end: grove driven by the official TypeScript SDK 2.x client
// (@modelcontextprotocol/client) over stdio, in each of its negotiation modes:
// 'legacy' (initialize, 2025-11-25), 'auto' (server/discover probe, then
// stateless 2026-07-28 requests) and pinned 2026-07-28. Covers tools,
// resources (read; subscribe or subscriptions/listen), prompts and completions.
// usage: node sdk2.mjs /path/to/grove
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { makeRepo as makeRepoIn } from './repo.mjs';

const makeRepo = () => makeRepoIn('grove-sdk2-');
const grove = process.argv[2] && resolve(process.argv[2]);
assert.ok(grove && existsSync(grove), 'usage: node sdk2.mjs /path/to/grove');

async function connect(repo, mode) {
  const transport = new StdioClientTransport({
    command: grove,
    args: ['serve'],
    cwd: repo,
    env: { PATH: process.env.PATH, HOME: repo, GROVE_LOG: 'error' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'grove-sdk2', version: '1.0.0' },
    { versionNegotiation: { mode } });
  await client.connect(transport);
  return client;
}

// Resolves with the first notifications/resources/updated for `uri` (or rejects after 10 s).
function updated(client, uri) {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no notifications/resources/updated for ${uri}`)), 10000);
    client.setNotificationHandler('notifications/resources/updated', (n) => {
      if (n.params.uri === uri) {
        clearTimeout(timer);
        res(n);
      }
    });
  });
}

for (const [label, mode, era, version] of [
  ['legacy', 'legacy', 'legacy', '2025-11-25'],
  ['auto', 'auto', 'modern', '2026-07-28'],
  ['pinned 2026-07-28', { pin: '2026-07-28' }, 'modern', '2026-07-28'],
]) {
  test(`SDK 2.x, ${label}: tools, resources, prompts, completions`, async () => {
    const { tmp, repo } = makeRepo();
    const client = await connect(repo, mode);
    try {
      assert.equal(client.getProtocolEra(), era);
      assert.equal(client.getNegotiatedProtocolVersion(), version);
      assert.equal(client.getServerVersion().name, 'grove');
      assert.match(client.getInstructions(), /worktree/);

      const { tools, ttlMs, cacheScope } = await client.listTools();
      assert.equal(tools.length, 17);
      if (era === 'modern') {
        assert.ok(ttlMs > 0, 'tools/list carries ttlMs');
        assert.equal(cacheScope, 'public');
      }

      const spawned = await client.callTool({
        name: 'spawn_work_instance',
        arguments: { prompt: 'sdk2 work', launch: false },
      });
      assert.equal(spawned.isError, false, JSON.stringify(spawned.content));
      const id = spawned.structuredContent.instance.id;
      assert.match(id, /^work-/);

      // resources: list, templates, read
      const { resources } = await client.listResources();
      assert.ok(resources.some((r) => r.uri === 'grove://instances'));
      const { resourceTemplates } = await client.listResourceTemplates();
      assert.ok(resourceTemplates.some((t) => t.uriTemplate === 'grove://instances/{id}'));
      const read = await client.readResource({ uri: `grove://instances/${id}` });
      assert.equal(JSON.parse(read.contents[0].text).instance.id, id);
      await assert.rejects(client.readResource({ uri: 'grove://instances/nope-1' }));

      // a subscription fires when the instance changes
      const uri = `grove://instances/${id}`;
      const seen = updated(client, uri);
      let sub;
      if (era === 'modern') {
        sub = await client.listen({ resourceSubscriptions: [uri], resourcesListChanged: true });
        assert.deepEqual(sub.honoredFilter.resourceSubscriptions, [uri]);
        assert.equal(sub.honoredFilter.resourcesListChanged, true);
      } else {
        await client.subscribeResource({ uri });
      }
      const cp = await client.callTool({
        name: 'log_checkpoint',
        arguments: { instance_id: id, phase: 'plan', message: 'from the SDK' },
      });
      assert.equal(cp.isError, false, JSON.stringify(cp.content));
      const note = await seen;
      assert.equal(note.params.uri, uri);
      if (sub) {
        await sub.close();
        assert.equal(await sub.closed, 'local');
      }

      // prompts and completions
      const { prompts } = await client.listPrompts();
      assert.deepEqual(prompts.map((p) => p.name).sort(), ['land', 'orchestrate', 'resume', 'review']);
      const review = await client.getPrompt({ name: 'review', arguments: { instance_id: id } });
      assert.ok(review.messages.length > 0);
      assert.match(review.messages[0].content.text, new RegExp(id));
      await assert.rejects(client.getPrompt({ name: 'review', arguments: {} }));
      const done = await client.complete({
        ref: { type: 'ref/prompt', name: 'review' },
        argument: { name: 'instance_id', value: 'work-' },
      });
      assert.ok(done.completion.values.includes(id));
    } finally {
      await client.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}

test('SDK 2.x, auto: a subscription ends gracefully when grove shuts down', async () => {
  const { tmp, repo } = makeRepo();
  const client = await connect(repo, 'auto');
  try {
    const sub = await client.listen({ resourcesListChanged: true });
    assert.equal(sub.honoredFilter.resourcesListChanged, true);
    const changed = new Promise((res) => client.setNotificationHandler(
      'notifications/resources/list_changed', () => res(true)));
    await client.callTool({ name: 'spawn_work_instance', arguments: { prompt: 'x', launch: false } });
    assert.equal(await changed, true);
    // EOF on grove's stdin: the open stream's listen request gets its result before exit
    await client.transport._process.stdin.end();
    assert.equal(await sub.closed, 'graceful');
  } finally {
    await client.close();
    rmSync(tmp, { recursive: true, force: true });
  }
});
