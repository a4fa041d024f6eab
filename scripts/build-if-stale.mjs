// @ts-check
/**
 * `npm start`'s first step: compile only when `dist/` is missing or older than a source file.
 * An install without dev dependencies (`npm ci --omit=dev`) has no compiler; it starts from the
 * `dist/` it was given, and says so when that is stale or absent.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'main.js');

/**
 * The newest modification time of the files that go into dist/.
 *
 * @param {string} dir
 * @returns {number}
 */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** @returns {string | null} */
function compiler() {
  try {
    return createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

const inputs = Math.max(
  newestSource(join(root, 'src')),
  ...['tsconfig.json', 'tsconfig.build.json'].map((name) => statSync(join(root, name)).mtimeMs),
);
const builtAt = existsSync(built) ? statSync(built).mtimeMs : 0;
if (builtAt >= inputs) process.exit(0);

const tsc = compiler();
if (tsc === null) {
  if (builtAt === 0) {
    console.error('dist/ is missing and TypeScript is not installed: run `npm ci && npm run build`, or use the image (Dockerfile).');
    process.exit(1);
  }
  console.warn('dist/ is older than src/ but TypeScript is not installed (--omit=dev): starting the dist/ that is there.');
  process.exit(0);
}
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
process.exit(result.status ?? 1);
