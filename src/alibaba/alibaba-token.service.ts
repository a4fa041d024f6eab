import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { FAIL_FAST_REDIS } from '../redis/redis.module.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { AlibabaApiError, fieldText } from './alibaba-api.js';

interface StoredToken {
  token: string;
  /** Epoch ms; null when unknown (the configured ALIBABA_ACCESS_TOKEN until a refresh). */
  expiresAt: number | null;
}

/** A token this close to its expiry is refreshed before it is used. */
const REFRESH_AHEAD_MS = 10 * 60_000;
const LOCK_MS = 30_000;

/**
 * The buyer's access token for the trade APIs, shared by the fleet in Redis so that one process
 * refreshes it (under a lock) and every other uses the new one. Starts from ALIBABA_ACCESS_TOKEN;
 * refreshed with ALIBABA_REFRESH_TOKEN before it expires (1688's last about 10 h) or when 1688
 * refuses it. Without a refresh token an expired token is reported, never retried for ever.
 */
@Injectable()
export class AlibabaTokenService {
  private readonly logger = new Logger(AlibabaTokenService.name);
  private readonly key: string;
  private current: StoredToken | null;
  private refreshing: Promise<StoredToken> | null = null;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(FAIL_FAST_REDIS) private readonly redis: RedisClient,
  ) {
    this.key = `${config.queuePrefix}:alibaba-access-token`;
    this.current = config.alibabaAccessToken ? { token: config.alibabaAccessToken, expiresAt: null } : null;
  }

  get configured(): boolean {
    return this.current !== null || this.config.alibabaRefreshToken !== '';
  }

  /** A token to call with: the fleet's newest, refreshed first when it is about to expire. */
  async token(): Promise<string> {
    const shared = await this.readShared();
    if (shared && (!this.current || (shared.expiresAt ?? 0) > (this.current.expiresAt ?? 0))) this.current = shared;
    if (this.current && (this.current.expiresAt === null || this.current.expiresAt - Date.now() > REFRESH_AHEAD_MS))
      return this.current.token;
    return (await this.refresh()).token;
  }

  /** 1688 refused the token: get a new one (once per refusal; a second refusal is reported). */
  async refused(token: string): Promise<string> {
    if (this.current?.token === token) this.current = { token, expiresAt: 0 };
    return (await this.refresh()).token;
  }

  private refresh(): Promise<StoredToken> {
    this.refreshing ??= this.refreshNow().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refreshNow(): Promise<StoredToken> {
    if (!this.config.alibabaRefreshToken) {
      throw new AlibabaApiError('auth', 'getToken', 'the access token is missing or expired and ALIBABA_REFRESH_TOKEN is not set');
    }
    const lock = `${this.key}:lock`;
    const locked = await this.redis.set(lock, String(process.pid), 'PX', LOCK_MS, 'NX').catch(() => null);
    if (locked !== 'OK') {
      // Another process is refreshing: its token lands in Redis within moments.
      for (let i = 0; i < 50; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        const shared = await this.readShared();
        if (shared && (shared.expiresAt ?? 0) - Date.now() > REFRESH_AHEAD_MS) return (this.current = shared);
      }
    }
    try {
      const fresh = await this.requestToken();
      await this.redis
        .set(this.key, JSON.stringify(fresh), 'PX', Math.max(1_000, (fresh.expiresAt ?? Date.now()) - Date.now()))
        .catch(() => undefined);
      this.logger.log({ msg: '1688 access token refreshed', expiresAt: fresh.expiresAt ? new Date(fresh.expiresAt).toISOString() : null });
      return (this.current = fresh);
    } finally {
      if (locked === 'OK') await this.redis.del(lock).catch(() => undefined);
    }
  }

  private async requestToken(): Promise<StoredToken> {
    const url = `${this.config.alibabaApiUrl.replace(/\/+$/, '')}/http/1/system.oauth2/getToken/${encodeURIComponent(this.config.alibabaAppKey)}`;
    const body = new URLSearchParams({
      grant_type: 'refresh_token',
      client_id: this.config.alibabaAppKey,
      client_secret: this.config.alibabaAppSecret,
      refresh_token: this.config.alibabaRefreshToken,
    });
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(this.config.alibabaApiTimeoutMs),
      });
    } catch (error) {
      throw new AlibabaApiError('unavailable', 'getToken', `token endpoint not reached: ${(error as Error).message}`);
    }
    const text = await response.text();
    let answer: {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
      error_description?: unknown;
      error_code?: unknown;
      error_message?: unknown;
    };
    try {
      answer = JSON.parse(text) as typeof answer;
    } catch {
      throw new AlibabaApiError(
        response.status >= 500 ? 'unavailable' : 'bad-answer',
        'getToken',
        `answer ${response.status} is not JSON: ${text.slice(0, 200)}`,
        null,
        response.status,
      );
    }
    if (typeof answer.access_token !== 'string' || answer.access_token === '') {
      const why =
        fieldText(answer.error_description ?? answer.error_message ?? answer.error ?? answer.error_code) || 'no access_token in the answer';
      throw new AlibabaApiError(
        response.status >= 500 ? 'unavailable' : 'auth',
        'getToken',
        `refresh refused (${response.status}): ${why}`,
        fieldText(answer.error ?? answer.error_code),
        response.status,
      );
    }
    const seconds = Number(answer.expires_in);
    return { token: answer.access_token, expiresAt: Number.isFinite(seconds) && seconds > 0 ? Date.now() + seconds * 1000 : null };
  }

  private async readShared(): Promise<StoredToken | null> {
    try {
      const text = await this.redis.get(this.key);
      return text ? (JSON.parse(text) as StoredToken) : null;
    } catch {
      return null;
    }
  }
}
