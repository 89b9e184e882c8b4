// A minimal MCP server on the official TypeScript SDK (@modelcontextprotocol/sdk,
// installed in tests/e2e/node_modules by `npm ci`): stdio transport, one tool.
// The cold-start comparison of tests/bench/bench.py starts it like grove.
// GROVE_BENCH_NODE_MODULES overrides where the SDK is looked up.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const modules = resolve(process.env.GROVE_BENCH_NODE_MODULES || join(here, '..', 'e2e', 'node_modules'));
const load = (rel) => import(pathToFileURL(join(modules, rel)).href);

const { McpServer } = await load('@modelcontextprotocol/sdk/dist/esm/server/mcp.js');
const { StdioServerTransport } = await load('@modelcontextprotocol/sdk/dist/esm/server/stdio.js');
const { z } = await load('zod/index.js');

const server = new McpServer({ name: 'sdk-bench', version: '1.0.0' });
server.registerTool(
  'echo',
  {
    title: 'Echo',
    description: 'Returns its text argument.',
    inputSchema: { text: z.string() },
  },
  async ({ text }) => ({ content: [{ type: 'text', text }] }),
);
await server.connect(new StdioServerTransport());
