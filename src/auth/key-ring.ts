import { timingSafeEqual } from 'node:crypto';

export type KeyRole = 'admin' | 'client';

/**
 * The keys this service accepts: ADMIN_API_KEYS (operator actions and everything else) and
 * API_KEYS (the internal REST clients). Compared in constant time against every key, so that
 * the time taken tells nothing about which one nearly matched.
 */
export class KeyRing {
  private readonly keys: { key: Buffer; role: KeyRole }[];

  constructor(config: { apiKeys: string[]; adminApiKeys: string[] }) {
    this.keys = [
      ...config.adminApiKeys.map((key) => ({ key: Buffer.from(key), role: 'admin' as const })),
      ...config.apiKeys.map((key) => ({ key: Buffer.from(key), role: 'client' as const })),
    ];
  }

  /** The role of a key given, or null when it is none of ours. */
  roleOf(given: string): KeyRole | null {
    const candidate = Buffer.from(given);
    let role: KeyRole | null = null;
    for (const { key, role: keyRole } of this.keys) {
      if (key.length === candidate.length && timingSafeEqual(key, candidate) && role !== 'admin') role = keyRole;
    }
    return role;
  }
}

/** The key of an `Authorization: Bearer <key>` header. */
export function bearerKey(header: string | undefined): string | null {
  return header ? (/^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null) : null;
}
