// A fresh git repository for an end-to-end test: <tmp>/repo with one commit
// (README.md and src/a.txt), its own HOME and no system git config.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function makeRepo(prefix = 'grove-e2e-') {
  const tmp = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  const repo = join(tmp, 'repo');
  const env = { ...process.env, HOME: tmp, GIT_CONFIG_NOSYSTEM: '1' };
  const git = (...args) => execFileSync('git', args, { cwd: repo, env, stdio: 'pipe' });
  execFileSync('git', ['init', '-q', '-b', 'main', repo], { env });
  git('config', 'user.name', 'E2E');
  git('config', 'user.email', 'e2e@example.com');
  execFileSync('bash', ['-c', 'echo hello > README.md && mkdir src && echo x > src/a.txt'], { cwd: repo });
  git('add', '-A');
  git('commit', '-qm', 'initial');
  return { tmp, repo, git, env };
}
