// @ts-check
// Cleaning up whatever way the suite ends. Every child process, database, queue prefix and
// temporary directory is registered with a small "reaper" process that outlives this one; when
// this process goes away in any way (Ctrl-C, an exception, even SIGKILL) the reaper's stdin
// closes and it kills and drops whatever is still registered. A normal run unregisters
// everything itself first.
//
// Also the snapshot of dist/: other people rebuild dist/ while a run lasts; every process of one
// run starts from the same build, copied at the start (to <tmp>/ordersync-chaos-dist-*, removed
// at the end).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_DATABASE_URL, ROOT } from './common.mjs';

const REAPER_SOURCE = String.raw`
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
const admin = process.argv[1];
const sets = { pid: new Map(), db: new Map(), prefix: new Map(), dir: new Map() };
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buf += chunk;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    try {
      const m = JSON.parse(line);
      if (m.op === 'add') sets[m.kind].set(m.value, m.extra); else sets[m.kind].delete(m.value);
    } catch {}
  }
});
let reaped = false;
function reap() {
  if (reaped) return;
  reaped = true;
  for (const pid of sets.pid.keys()) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  for (const db of sets.db.keys()) {
    spawnSync('psql', [admin, '-qc', 'ALTER DATABASE "' + db + '" ALLOW_CONNECTIONS true'], { stdio: 'ignore', timeout: 30000 });
    spawnSync('psql', [admin, '-qc', 'DROP DATABASE IF EXISTS "' + db + '" WITH (FORCE)'], { stdio: 'ignore', timeout: 30000 });
  }
  for (const [prefix, url] of sets.prefix) spawnSync('sh', ['-c', 'redis-cli -u "$1" --scan --pattern "$2:*" | xargs -r -n 500 redis-cli -u "$1" del >/dev/null', 'sh', url, prefix], { stdio: 'ignore', timeout: 60000 });
  for (const dir of sets.dir.keys()) { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} }
  process.exit(0);
}
process.stdin.on('end', reap);
process.stdin.on('close', reap);
process.stdin.on('error', reap);
`;

/** @type {import('node:child_process').ChildProcessByStdio<import('node:stream').Writable, null, null> | null} */
let reaper = null;

export function startReaper() {
  if (reaper) return;
  reaper = spawn(process.execPath, ['-e', REAPER_SOURCE, ADMIN_DATABASE_URL], {
    cwd: ROOT,
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  reaper.stdin.on('error', () => {});
  reaper.unref();
  /** @type {{ unref?: () => void }} */ (/** @type {unknown} */ (reaper.stdin)).unref?.();
}

/** Ends the reaper: it cleans whatever is still registered (nothing, after a normal run). */
export function stopReaper() {
  reaper?.stdin.end();
  reaper = null;
}

/**
 * Registers (`add`) or unregisters (`del`) something for the reaper to remove.
 *
 * @param {'add' | 'del'} op
 * @param {'pid' | 'db' | 'prefix' | 'dir'} kind
 * @param {string | number | undefined} value
 * @param {string} [extra] the Redis URL of a prefix
 */
export function reap(op, kind, value, extra) {
  if (value === undefined) return;
  if (reaper?.stdin.writable) reaper.stdin.write(`${JSON.stringify({ op, kind, value, extra })}\n`);
}

/**
 * Keeps a child process registered while it runs.
 *
 * @param {number | undefined} pid
 * @param {Promise<unknown>} exited
 */
export function reapWhileRunning(pid, exited) {
  reap('add', 'pid', pid);
  void exited.then(() => reap('del', 'pid', pid));
}

const DIST = path.join(ROOT, 'dist');
let distDir = DIST;
/** The snapshot's own directory (outside the work tree), or null. */
let snapshotBase = /** @type {string | null} */ (null);

/** The entry point every service process of this run starts from. */
export function serviceMain() {
  return path.join(distDir, 'main.js');
}

/**
 * Copies dist/ to a directory of the run's own outside the work tree (so that no commit, lint
 * or typecheck of the repository ever sees it): `<tmp>/dist`, beside a package.json saying the
 * files are ES modules and a link to the repository's node_modules.
 */
export function snapshotDist() {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), `ordersync-chaos-dist-${process.pid}-`));
  reap('add', 'dir', base);
  const target = path.join(base, 'dist');
  fs.cpSync(DIST, target, { recursive: true, filter: (src) => !src.endsWith('.map') && !src.endsWith('.d.ts') });
  fs.writeFileSync(path.join(base, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'), 'dir');
  distDir = target;
  snapshotBase = base;
  return target;
}

export function removeDistSnapshot() {
  if (!snapshotBase) return;
  // rmSync removes the node_modules link itself, never what it points to.
  fs.rmSync(snapshotBase, { recursive: true, force: true });
  reap('del', 'dir', snapshotBase);
  snapshotBase = null;
  distDir = DIST;
}
