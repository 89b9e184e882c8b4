#!/usr/bin/env node
// fake-github.mjs: a small stand-in for GitHub's REST API, for tests.
//
//   node fake-github.mjs [--port N] [--token T] [--web-url URL]
//
// Listens on 127.0.0.1 (port 0 = any free port), prints exactly one line
// "listening <port>" on stdout once it is ready, logs each request to stderr,
// and exits on SIGTERM/SIGINT or when its stdin closes (so a test that dies
// does not leave it behind): give it a pipe that you hold open as stdin; with
// /dev/null it exits at once.
//
// It answers exactly three of GitHub's operations, the way GitHub does:
//   POST /repos/{owner}/{repo}/pulls                 (pulls/create)
//   GET  /repos/{owner}/{repo}/pulls?head=&state=    (pulls/list)
//   GET  /repos/{owner}/{repo}/issues/{issue_number} (issues/get)
// and 404 {"message":"Not Found"} to everything else. Request bodies are
// validated against the operation's requestBody schema, and every answer it
// sends against the operation's response schema, both read at start-up from
// GitHub's OpenAPI description in the @octokit/openapi package (OpenAPI 3.0:
// `$ref`s are resolved to JSON Schema `definitions` and `nullable` turned
// into a "null" type, then compiled with ajv). An answer that does not
// validate is a bug in this file: it is sent as a 500 and logged loudly.
//
// Every request must carry Accept: application/vnd.github+json,
// X-GitHub-Api-Version: 2022-11-28, a User-Agent and, when --token is given,
// Authorization: Bearer <token> (any non-empty bearer token otherwise).
//
// Test hooks: a pull request titled "trigger-validation-error" is refused
// with 422; a repository named "slow" answers after 5 s; issue numbers from
// 1000000 up do not exist. GET /_grove/requests (not a GitHub endpoint)
// returns every request received so far: method, path, headers (the
// Authorization value replaced by whether it matched), body.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const API_VERSION = '2022-11-28';
const MEDIA_TYPE = 'application/vnd.github+json';
const DOCS = 'https://docs.github.com/rest';
const SLOW_MS = 5000;
const MAX_BODY = 1 << 20;
const NAME = /^[A-Za-z0-9._-]+$/;

// ---- command line -----------------------------------------------------------

function parseArgs(argv) {
  const opts = { port: 0, token: null, webUrl: 'https://github.com' };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--port' && value !== undefined) opts.port = Number(value);
    else if (argv[i] === '--token' && value !== undefined) opts.token = value;
    else if (argv[i] === '--web-url' && value !== undefined) opts.webUrl = value.replace(/\/+$/, '');
    else {
      process.stderr.write(`usage: fake-github.mjs [--port N] [--token T] [--web-url URL]\n`);
      process.exit(2);
    }
    i++;
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    process.stderr.write(`fake-github: invalid port '${argv[argv.indexOf('--port') + 1]}'\n`);
    process.exit(2);
  }
  return opts;
}

// ---- GitHub's OpenAPI description -> ajv validators ---------------------------

function loadDescription() {
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@octokit/openapi/package.json'));
  const file = path.join(dir, 'generated', 'api.github.com.json');
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  if (!/^3\.0\./.test(spec.openapi)) throw new Error(`${file}: expected OpenAPI 3.0, found ${spec.openapi}`);
  return { spec, file };
}

// Follows "#/a/b" references inside the description (responses, parameters, bodies).
function deref(spec, obj) {
  for (let hops = 0; obj && obj.$ref; hops++) {
    if (hops > 20 || !obj.$ref.startsWith('#/')) throw new Error(`cannot resolve ${obj.$ref}`);
    obj = obj.$ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o, k) => (o === undefined ? undefined : o[k]), spec);
    if (obj === undefined) throw new Error('dangling $ref in the OpenAPI description');
  }
  return obj;
}

function findOperation(spec, operationId) {
  for (const [p, item] of Object.entries(spec.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      if (item[method] && item[method].operationId === operationId) return { path: p, method, op: item[method] };
    }
  }
  throw new Error(`operation ${operationId} is not in the OpenAPI description`);
}

const pointerEscape = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

// Keywords of OpenAPI 3.0's schema object that JSON Schema does not have.
const OPENAPI_ONLY = new Set(['nullable', 'example', 'discriminator', 'externalDocs', 'xml']);
// Keywords whose values are data or name maps, not schemas.
const DATA = new Set(['enum', 'default', 'const', 'examples', 'required']);
const NAME_MAPS = new Set(['properties', 'patternProperties', 'definitions']);

// An OpenAPI 3.0 schema as a draft-07 JSON Schema: components/schemas/X
// references become #/definitions/X (only those reachable are copied),
// `nullable: true` adds "null" to the type (and to an enum), and
// OpenAPI-only keywords and x- extensions are dropped.
function toJsonSchema(spec, root) {
  const defs = {};
  const formats = new Set();
  const convert = (s) => {
    if (Array.isArray(s)) return s.map(convert);
    if (!s || typeof s !== 'object') return s;
    if (s.$ref) {
      const m = /^#\/components\/schemas\/(.+)$/.exec(s.$ref);
      if (!m) throw new Error(`unexpected schema reference ${s.$ref}`);
      const name = m[1].replace(/~1/g, '/').replace(/~0/g, '~');
      if (!(name in defs)) {
        const target = spec.components.schemas[name];
        if (!target) throw new Error(`dangling reference ${s.$ref}`);
        defs[name] = true; // placeholder: recursive schemas terminate here
        defs[name] = convert(target);
      }
      return { $ref: `#/definitions/${pointerEscape(name)}` };
    }
    const out = {};
    for (const [k, v] of Object.entries(s)) {
      if (OPENAPI_ONLY.has(k) || k.startsWith('x-')) continue;
      if (DATA.has(k)) out[k] = v;
      else if (NAME_MAPS.has(k)) out[k] = Object.fromEntries(Object.entries(v).map(([n, sub]) => [n, convert(sub)]));
      else out[k] = convert(v);
    }
    if (typeof out.format === 'string') formats.add(out.format);
    if (s.nullable === true) {
      if (out.type === undefined) return { anyOf: [out, { type: 'null' }] };
      out.type = [...new Set([].concat(out.type, 'null'))];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    }
    return out;
  };
  const schema = convert(root);
  return { schema: { ...schema, definitions: defs }, formats };
}

function makeValidators() {
  const { spec, file } = loadDescription();
  const ajv = new Ajv({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  const compile = (root, what) => {
    const { schema, formats } = toJsonSchema(spec, root);
    for (const f of formats) {
      if (ajv.formats[f]) continue;
      if (f === 'repo.nwo') ajv.addFormat(f, /^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/);
      else {
        process.stderr.write(`fake-github: format '${f}' (in ${what}) is not checked\n`);
        ajv.addFormat(f, true);
      }
    }
    try {
      return ajv.compile(schema);
    } catch (e) {
      throw new Error(`${what}: ${e.message}`);
    }
  };
  const responseSchema = (operationId, status) => {
    const { op } = findOperation(spec, operationId);
    const response = deref(spec, op.responses[status]);
    if (!response) throw new Error(`${operationId} has no ${status} response`);
    return compile(response.content['application/json'].schema, `${operationId} ${status}`);
  };
  const checkPath = (operationId, method, p) => {
    const found = findOperation(spec, operationId);
    if (found.method !== method || found.path !== p) {
      throw new Error(`${operationId} is ${found.method} ${found.path} in ${file}, not ${method} ${p}`);
    }
    return found.op;
  };

  const create = checkPath('pulls/create', 'post', '/repos/{owner}/{repo}/pulls');
  const list = checkPath('pulls/list', 'get', '/repos/{owner}/{repo}/pulls');
  checkPath('issues/get', 'get', '/repos/{owner}/{repo}/issues/{issue_number}');

  // pulls/list query parameters as one object schema (values coerced from strings).
  const queryProps = {};
  for (const p of list.parameters.map((x) => deref(spec, x))) {
    if (p.in === 'query') queryProps[p.name] = p.schema;
  }
  const queryAjv = new Ajv({ strict: true, allowUnionTypes: true, coerceTypes: true, allErrors: true });
  const listQuery = queryAjv.compile(toJsonSchema(spec, { type: 'object', properties: queryProps }).schema);

  const basicError = compile({ $ref: '#/components/schemas/basic-error' }, 'basic-error');
  const v = {
    file,
    createBody: compile(deref(spec, create.requestBody).content['application/json'].schema, 'pulls/create body'),
    create201: responseSchema('pulls/create', '201'),
    create422: responseSchema('pulls/create', '422'),
    list200: responseSchema('pulls/list', '200'),
    listQuery,
    issue200: responseSchema('issues/get', '200'),
    issue404: responseSchema('issues/get', '404'),
    basicError,
    // pull-request-simple's fields: a listed pull request is the full one cut down to them.
    simpleFields: Object.keys(spec.components.schemas['pull-request-simple'].properties),
  };
  return v;
}

// ---- GitHub-shaped objects ---------------------------------------------------

const isoNow = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const sha = (text) => createHash('sha1').update(text).digest('hex');
const nodeId = (kind, id) => Buffer.from(`${kind}${id}`).toString('base64').replace(/=+$/, '');
const idOf = (text) => parseInt(sha(text).slice(0, 8), 16);

function makeUser(api, web, login) {
  const id = idOf(`user:${login}`);
  const u = `${api}/users/${login}`;
  return {
    login,
    id,
    node_id: nodeId('U_', id),
    avatar_url: `${web}/avatars/u/${id}`,
    gravatar_id: '',
    url: u,
    html_url: `${web}/${login}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type: 'User',
    user_view_type: 'public',
    site_admin: false,
  };
}

function makeRepository(api, web, owner, name, created) {
  const full = `${owner}/${name}`;
  const r = `${api}/repos/${full}`;
  const id = idOf(`repo:${full}`);
  const host = new URL(web).host;
  return {
    id,
    node_id: nodeId('R_', id),
    name,
    full_name: full,
    license: null,
    forks: 0,
    owner: makeUser(api, web, owner),
    private: false,
    html_url: `${web}/${full}`,
    description: null,
    fork: false,
    url: r,
    archive_url: `${r}/{archive_format}{/ref}`,
    assignees_url: `${r}/assignees{/user}`,
    blobs_url: `${r}/git/blobs{/sha}`,
    branches_url: `${r}/branches{/branch}`,
    collaborators_url: `${r}/collaborators{/collaborator}`,
    comments_url: `${r}/comments{/number}`,
    commits_url: `${r}/commits{/sha}`,
    compare_url: `${r}/compare/{base}...{head}`,
    contents_url: `${r}/contents/{+path}`,
    contributors_url: `${r}/contributors`,
    deployments_url: `${r}/deployments`,
    downloads_url: `${r}/downloads`,
    events_url: `${r}/events`,
    forks_url: `${r}/forks`,
    git_commits_url: `${r}/git/commits{/sha}`,
    git_refs_url: `${r}/git/refs{/sha}`,
    git_tags_url: `${r}/git/tags{/sha}`,
    git_url: `git://${host}/${full}.git`,
    issue_comment_url: `${r}/issues/comments{/number}`,
    issue_events_url: `${r}/issues/events{/number}`,
    issues_url: `${r}/issues{/number}`,
    keys_url: `${r}/keys{/key_id}`,
    labels_url: `${r}/labels{/name}`,
    languages_url: `${r}/languages`,
    merges_url: `${r}/merges`,
    milestones_url: `${r}/milestones{/number}`,
    notifications_url: `${r}/notifications{?since,all,participating}`,
    pulls_url: `${r}/pulls{/number}`,
    releases_url: `${r}/releases{/id}`,
    ssh_url: `git@${host}:${full}.git`,
    stargazers_url: `${r}/stargazers`,
    statuses_url: `${r}/statuses/{sha}`,
    subscribers_url: `${r}/subscribers`,
    subscription_url: `${r}/subscription`,
    tags_url: `${r}/tags`,
    teams_url: `${r}/teams`,
    trees_url: `${r}/git/trees{/sha}`,
    clone_url: `${web}/${full}.git`,
    mirror_url: null,
    hooks_url: `${r}/hooks`,
    svn_url: `${web}/${full}`,
    homepage: null,
    language: null,
    forks_count: 0,
    stargazers_count: 0,
    watchers_count: 0,
    size: 0,
    default_branch: 'main',
    open_issues_count: 0,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    visibility: 'public',
    pushed_at: created,
    created_at: created,
    updated_at: created,
    allow_rebase_merge: true,
    allow_squash_merge: true,
    allow_merge_commit: true,
    allow_forking: true,
    web_commit_signoff_required: false,
    open_issues: 0,
    watchers: 0,
  };
}

// The `head` or `base` of a pull request.
function makeRef(api, web, owner, repo, ref, created) {
  return {
    label: `${owner}:${ref}`,
    ref,
    repo: makeRepository(api, web, owner, repo, created),
    sha: sha(`${owner}/${repo}:${ref}`),
    user: makeUser(api, web, owner),
  };
}

function makePull(ctx, owner, repo, number, req) {
  const { api, web } = ctx;
  const now = isoNow();
  const r = `${api}/repos/${owner}/${repo}`;
  const html = `${web}/${owner}/${repo}/pull/${number}`;
  const id = idOf(`pull:${owner}/${repo}#${number}`);
  const [headOwner, headRef] = req.head.includes(':') ? req.head.split(/:(.*)/s) : [owner, req.head];
  const link = (href) => ({ href });
  return {
    url: `${r}/pulls/${number}`,
    id,
    node_id: nodeId('PR_', id),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${r}/issues/${number}`,
    commits_url: `${r}/pulls/${number}/commits`,
    review_comments_url: `${r}/pulls/${number}/comments`,
    review_comment_url: `${r}/pulls/comments{/number}`,
    comments_url: `${r}/issues/${number}/comments`,
    statuses_url: `${r}/statuses/${sha(`${headOwner}/${repo}:${headRef}`)}`,
    number,
    state: 'open',
    locked: false,
    title: req.title,
    user: makeUser(api, web, ctx.login),
    body: req.body ?? null,
    labels: [],
    milestone: null,
    active_lock_reason: null,
    created_at: now,
    updated_at: now,
    closed_at: null,
    merged_at: null,
    merge_commit_sha: null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: makeRef(api, web, headOwner, repo, headRef, now),
    base: makeRef(api, web, owner, repo, req.base, now),
    _links: {
      self: link(`${r}/pulls/${number}`),
      html: link(html),
      issue: link(`${r}/issues/${number}`),
      comments: link(`${r}/issues/${number}/comments`),
      review_comments: link(`${r}/pulls/${number}/comments`),
      review_comment: link(`${r}/pulls/comments{/number}`),
      commits: link(`${r}/pulls/${number}/commits`),
      statuses: link(`${r}/statuses/${sha(`${headOwner}/${repo}:${headRef}`)}`),
    },
    author_association: 'OWNER',
    auto_merge: null,
    draft: req.draft === true,
    merged: false,
    mergeable: null,
    rebaseable: null,
    mergeable_state: 'unknown',
    merged_by: null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: req.maintainer_can_modify === true,
    commits: 1,
    additions: 0,
    deletions: 0,
    changed_files: 0,
  };
}

function makeIssue(ctx, owner, repo, number) {
  const { api, web } = ctx;
  const r = `${api}/repos/${owner}/${repo}`;
  const id = idOf(`issue:${owner}/${repo}#${number}`);
  const created = '2026-01-01T00:00:00Z';
  return {
    id,
    node_id: nodeId('I_', id),
    url: `${r}/issues/${number}`,
    repository_url: r,
    labels_url: `${r}/issues/${number}/labels{/name}`,
    comments_url: `${r}/issues/${number}/comments`,
    events_url: `${r}/issues/${number}/events`,
    html_url: `${web}/${owner}/${repo}/issues/${number}`,
    number,
    state: 'open',
    state_reason: null,
    title: `Issue ${number}`,
    body: `The body of issue ${number}.`,
    user: makeUser(api, web, owner),
    // issues 7 and 42 carry two labels (GitHub's label objects), the others none
    labels: number === 7 || number === 42
      ? ['bug', 'good first issue'].map((name) => makeLabel(r, name)) : [],
    assignee: null,
    assignees: [],
    milestone: null,
    locked: false,
    active_lock_reason: null,
    comments: 0,
    closed_at: null,
    created_at: created,
    updated_at: created,
    author_association: 'OWNER',
  };
}

function makeLabel(r, name) {
  const id = idOf(`label:${r}:${name}`);
  return {
    id,
    node_id: nodeId('LA_', id),
    url: `${r}/labels/${encodeURIComponent(name)}`,
    name,
    description: null,
    color: 'd73a4a',
    default: name === 'bug',
  };
}

// ---- the server ----------------------------------------------------------------

class Reply {
  constructor(status, body, validate, what) {
    Object.assign(this, { status, body, validate, what });
  }
}

const errorBody = (message, section) => ({ message, documentation_url: `${DOCS}${section ? `/${section}` : ''}` });
const notFound = (v) => new Reply(404, errorBody('Not Found'), v.basicError, 'basic-error');

function validationFailed(v, errors, section) {
  return new Reply(422, { ...errorBody('Validation Failed', section), errors }, v.create422, 'validation-error');
}

// ajv's complaints about a pull request body, as GitHub-style errors[] entries.
function bodyErrors(ajvErrors) {
  return ajvErrors.map((e) => {
    if (e.keyword === 'required') {
      return { resource: 'PullRequest', field: e.params.missingProperty, code: 'missing_field' };
    }
    const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    return {
      resource: 'PullRequest',
      field,
      code: 'invalid',
      message: `${field || 'body'} ${e.message}`,
    };
  });
}

function handleCreate(ctx, owner, repo, body) {
  const { v } = ctx;
  const section = 'pulls/pulls#create-a-pull-request';
  if (!v.createBody(body)) return validationFailed(v, bodyErrors(v.createBody.errors), section);
  if (body.title === undefined && body.issue === undefined) {
    return validationFailed(v, [{ resource: 'PullRequest', field: 'title', code: 'missing_field' }], section);
  }
  if (body.title === 'trigger-validation-error') {
    return validationFailed(v, [{ resource: 'PullRequest', field: 'title', code: 'invalid' }], section);
  }
  const key = `${owner}/${repo}`.toLowerCase();
  const state = ctx.repos.get(key) ?? { next: 1, pulls: [] };
  ctx.repos.set(key, state);
  const headLabel = body.head.includes(':') ? body.head : `${owner}:${body.head}`;
  // GitHub refuses a second open pull request with the same head and base.
  if (state.pulls.some((p) => p.state === 'open' && p.head.label === headLabel && p.base.ref === body.base)) {
    return validationFailed(
      v,
      [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${headLabel}.` }],
      section,
    );
  }
  const pull = makePull(ctx, owner, repo, state.next, { ...body, title: body.title ?? `Issue ${body.issue}` });
  state.next++;
  state.pulls.push(pull);
  return new Reply(201, pull, v.create201, 'pulls/create 201');
}

function handleList(ctx, owner, repo, query) {
  const { v } = ctx;
  const params = Object.fromEntries(query);
  if (!v.listQuery(params)) {
    return validationFailed(
      v,
      v.listQuery.errors.map((e) => ({
        resource: 'PullRequest',
        field: e.instancePath.replace(/^\//, ''),
        code: 'invalid',
        message: `${e.instancePath.replace(/^\//, '') || 'query'} ${e.message}`,
      })),
      'pulls/pulls#list-pull-requests',
    );
  }
  const state = params.state ?? 'open';
  const pulls = (ctx.repos.get(`${owner}/${repo}`.toLowerCase())?.pulls ?? [])
    .filter((p) => state === 'all' || p.state === state)
    .filter((p) => params.head === undefined || p.head.label === params.head)
    .filter((p) => params.base === undefined || p.base.ref === params.base)
    .map((p) => Object.fromEntries(v.simpleFields.filter((k) => k in p).map((k) => [k, p[k]])));
  return new Reply(200, pulls, v.list200, 'pulls/list 200');
}

function handleIssue(ctx, owner, repo, numberText) {
  const { v } = ctx;
  const number = Number(numberText);
  if (!/^[0-9]+$/.test(numberText) || number < 1 || number >= 1000000) {
    return new Reply(404, errorBody('Not Found', 'issues/issues#get-an-issue'), v.issue404, 'issues/get 404');
  }
  return new Reply(200, makeIssue(ctx, owner, repo, number), v.issue200, 'issues/get 200');
}

// Header checks every request goes through; a Reply when one fails.
function checkHeaders(ctx, headers, auth) {
  const { v } = ctx;
  const basic = (status, message) => new Reply(status, errorBody(message), v.basicError, 'basic-error');
  if (!headers['user-agent']) {
    return basic(
      403,
      'Request forbidden by administrative rules. Please make sure your request has a User-Agent header',
    );
  }
  if (headers['x-github-api-version'] !== API_VERSION) {
    return basic(400, `API version ${headers['x-github-api-version'] ?? '(none)'} is not supported.`);
  }
  if (headers.accept !== MEDIA_TYPE) return basic(415, `Unsupported 'Accept' header: ${headers.accept ?? '(none)'}`);
  if (auth !== 'matched') return basic(401, 'Bad credentials');
  return null;
}

function authState(header, token) {
  if (!header) return 'missing';
  const m = /^Bearer (\S+)$/.exec(header);
  if (!m) return 'mismatched';
  return token === null || m[1] === token ? 'matched' : 'mismatched';
}

async function route(ctx, req, url, rawBody, record) {
  const { v } = ctx;
  const problem = checkHeaders(ctx, req.headers, record.authorization);
  if (problem) return problem;

  let parts;
  try {
    parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return notFound(v); // malformed %-escapes
  }
  if (parts[0] !== 'repos' || parts.length < 4 || !NAME.test(parts[1]) || !NAME.test(parts[2])) return notFound(v);
  const [, owner, repo, kind, extra, ...rest] = parts;
  if (rest.length) return notFound(v);
  if (repo === 'slow') await new Promise((resolve) => setTimeout(resolve, SLOW_MS));

  if (kind === 'pulls' && extra === undefined && req.method === 'POST') {
    let body;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return new Reply(400, errorBody('Problems parsing JSON'), v.basicError, 'basic-error');
    }
    return handleCreate(ctx, owner, repo, body);
  }
  if (kind === 'pulls' && extra === undefined && req.method === 'GET') {
    return handleList(ctx, owner, repo, url.searchParams);
  }
  if (kind === 'issues' && extra !== undefined && req.method === 'GET') return handleIssue(ctx, owner, repo, extra);
  return notFound(v);
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'X-GitHub-Media-Type': 'github.v3; format=json',
  });
  res.end(text);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const v = makeValidators();
  const ctx = { v, api: '', web: opts.webUrl, login: 'grove-bot', repos: new Map(), requests: [] };

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', async () => {
      const url = new URL(req.url, ctx.api);
      if (req.method === 'GET' && url.pathname === '/_grove/requests') {
        send(res, 200, ctx.requests);
        return;
      }
      const rawBody = Buffer.concat(chunks);
      const headers = { ...req.headers };
      delete headers.authorization;
      const record = {
        method: req.method,
        path: req.url,
        headers,
        authorization: authState(req.headers.authorization, opts.token),
        body: null,
      };
      if (rawBody.length) {
        try {
          record.body = JSON.parse(rawBody.toString('utf8'));
        } catch {
          record.body = rawBody.toString('utf8');
        }
      }
      ctx.requests.push(record);

      let reply;
      try {
        reply =
          size > MAX_BODY
            ? new Reply(413, errorBody('Payload too large'), v.basicError, 'basic-error')
            : await route(ctx, req, url, rawBody, record);
      } catch (e) {
        process.stderr.write(`fake-github: ${req.method} ${req.url} failed: ${e.stack}\n`);
        send(res, 500, errorBody(`fake-github failed: ${e.message}`));
        return;
      }
      if (!reply.validate(reply.body)) {
        process.stderr.write(
          `fake-github: BUG: the ${reply.status} answer to ${req.method} ${req.url} does not match ` +
            `${reply.what} in ${v.file}:\n${JSON.stringify(reply.validate.errors, null, 2)}\n`,
        );
        send(res, 500, errorBody(`fake-github: invalid ${reply.what} answer (see its stderr)`));
        return;
      }
      process.stderr.write(`fake-github: ${req.method} ${req.url} -> ${reply.status}\n`);
      if (!res.destroyed) send(res, reply.status, reply.body);
    });
  });

  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();

  server.listen(opts.port, '127.0.0.1', () => {
    const { port } = server.address();
    ctx.api = `http://127.0.0.1:${port}`;
    process.stdout.write(`listening ${port}\n`);
  });
}

main();
