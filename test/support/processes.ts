import type { ChildProcess } from 'node:child_process';
import { harnessSecretEnv } from '../../tools/lib/harness-secrets.mjs';
import { launchService } from '../../tools/lib/harness-service.mjs';
import { ADMIN_KEY, API_KEY, testEnv, type isolatedNames } from './service.js';

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

/**
 * The built service (`dist/main.js`) as its own process, the way it runs in production, started
 * by the harnesses' one launcher (tools/lib/harness-service.mjs) with the harnesses' credentials
 * (tools/lib/harness-secrets.mjs). The keys of test/support/service.ts are accepted too, so that
 * the test helpers built on its constants work against it.
 */
export async function startServiceProcess(names: ReturnType<typeof isolatedNames>, env: Record<string, string>): Promise<ServiceProcess> {
  const base = testEnv(names);
  const service = await launchService({
    label: 'service',
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      ...base,
      ...harnessSecretEnv({ extraApiKeys: [API_KEY, ...(base.API_KEYS ?? '').split(',')].filter(Boolean), extraAdminKeys: [ADMIN_KEY] }),
      LOG_LEVEL: 'info',
      ...env,
    },
    startTimeoutMs: 60_000,
  });
  return {
    child: service.child,
    port: service.port,
    output: service.output,
    async stop(timeoutMs = 30_000) {
      return (await service.stop(timeoutMs)).code;
    },
    async kill() {
      await service.kill();
    },
  };
}
