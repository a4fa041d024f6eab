import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { testEnv, type isolatedNames } from './service.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  /** The HTTP port, for roles that serve HTTP. */
  port: number | null;
  output(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL: the crash no code can clean up after. */
  kill(): Promise<void>;
}

/** The built service (`dist/main.js`) as its own process, the way it runs in production. */
export async function startServiceProcess(names: ReturnType<typeof isolatedNames>, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      ...testEnv(names),
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const port = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`service did not start within 60 s:\n${output.slice(-3_000)}`));
    }, 60_000);
    const onData = () => {
      const line = output.split('\n').find((l) => l.includes('ordersync started'));
      if (!line) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      const match = /"port":(\d+|null)/.exec(line);
      resolve(match && match[1] !== 'null' ? Number(match[1]) : null);
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${code} before starting:\n${output.slice(-3_000)}`));
    });
  });
  return {
    child,
    port,
    output: () => output,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const [code] = await exited;
      clearTimeout(timer);
      return code as number | null;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
  };
}
