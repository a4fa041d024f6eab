import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const SCRIPT = new URL('../scripts/build-if-stale.mjs', import.meta.url).pathname;

/** A checkout without node_modules, as `npm ci --omit=dev` leaves it without TypeScript. */
function checkout(withDist: 'current' | 'stale' | 'none'): string {
  const dir = mkdtempSync(join(tmpdir(), 'ordersync-start-'));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'src'));
  copyFileSync(SCRIPT, join(dir, 'scripts', 'build-if-stale.mjs'));
  writeFileSync(join(dir, 'src', 'main.ts'), 'export {};\n');
  writeFileSync(join(dir, 'tsconfig.json'), '{}');
  writeFileSync(join(dir, 'tsconfig.build.json'), '{}');
  const old = new Date(Date.now() - 60_000);
  for (const file of ['src/main.ts', 'tsconfig.json', 'tsconfig.build.json']) utimesSync(join(dir, file), old, old);
  if (withDist !== 'none') {
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'dist', 'main.js'), '');
    const at = withDist === 'current' ? new Date() : new Date(Date.now() - 120_000);
    utimesSync(join(dir, 'dist', 'main.js'), at, at);
  }
  return dir;
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function run(dir: string) {
  dirs.push(dir);
  return spawnSync(process.execPath, [join(dir, 'scripts', 'build-if-stale.mjs')], { encoding: 'utf8', timeout: 20_000 });
}

describe('npm start compiles only when it must', () => {
  it('starts a current dist/ without compiling', () => {
    const dir = checkout('current');
    const before = statSync(join(dir, 'dist', 'main.js')).mtimeMs;
    const result = run(dir);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    expect(statSync(join(dir, 'dist', 'main.js')).mtimeMs).toBe(before);
  });

  it('without TypeScript (--omit=dev), starts a stale dist/ and says so', () => {
    const result = run(checkout('stale'));
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/older than src\/ but TypeScript is not installed/);
  });

  it('without TypeScript and without dist/, refuses with what to do', () => {
    const result = run(checkout('none'));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/dist\/ is missing and TypeScript is not installed: run `npm ci && npm run build`/);
  });
});
