import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

export type Env = Record<string, string | undefined>;

/**
 * The process environment, with a `.env` file in the working directory filling in what the
 * environment does not set (the environment always wins, as with dotenv).
 */
export function readEnvironment(cwd = process.cwd(), env: Env = process.env): Env {
  const file = join(cwd, '.env');
  if (!existsSync(file)) return env;
  const fromFile = parseEnv(readFileSync(file, 'utf8')) as Env;
  return { ...fromFile, ...Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined)) };
}
