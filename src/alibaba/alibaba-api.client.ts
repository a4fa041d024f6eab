import { Inject, Injectable, Logger } from '@nestjs/common';
import { FleetRateGate } from '../common/fleet-rate-gate.js';
import { parseLosslessJson } from '../common/lossless-json.js';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/app-config.module.js';
import { ArrivalMargin, type ArrivalMarginOptions } from '../dispatch/arrival-margin.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { FAIL_FAST_REDIS } from '../redis/redis.module.js';
import type { RedisClient } from '../redis/redis-connections.js';
import { AlibabaApiError, errorKindOf, fieldText, urlPathOf, type AlibabaApi } from './alibaba-api.js';
import { AlibabaTokenService } from './alibaba-token.service.js';
import { AnswerTimes } from './answer-times.js';
import { aopSignature } from './aop-signature.js';

/** Largest answer read (a page of 200 push messages is well under this). */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;
/**
 * The widening of the fleet's one-second window: at least 50 ms (the time from admission to 1688
 * counting the call), wider with the spread of admission-to-answer-headers times, which holds
 * 1688's own time to answer as well; at most 250 ms, so that one slow answer costs a fifth of the
 * limit at worst, not half (a call over 1688's limit is answered gw.Qos and retried).
 */
const ALIBABA_MARGIN: ArrivalMarginOptions = { allowanceMs: 5, minMs: 50, maxMs: 250, defaultMs: 100 };

export type AlibabaAnswer = Record<string, unknown>;

/**
 * Signed calls to 1688's Open API: `_aop_timestamp`, the access token for trade APIs, and
 * `_aop_signature` over the url path and the sorted parameters. At most ALIBABA_API_RATE_LIMIT
 * calls per second for the whole fleet, in any second as 1688 counts arrivals: the gate's
 * one-second window is widened by at least 50 ms, and by more when the measured spread of
 * admission-to-answer times is wider (ArrivalMargin, as the dispatch gate's: 100 ms until 32
 * answers, so that a process's first, slower calls are covered too). gw.Qos* answers, 5xx,
 * timeouts and refused connections are retried with exponential backoff and jitter
 * (ALIBABA_API_RETRIES times); a refused token is refreshed once. Answers are parsed keeping
 * every digit of 1688's ids.
 */
@Injectable()
export class AlibabaApiClient {
  private readonly logger = new Logger(AlibabaApiClient.name);
  private readonly gate: FleetRateGate;
  private readonly margin = new ArrivalMargin(ALIBABA_MARGIN);
  private readonly answerTimes = new AnswerTimes();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly tokens: AlibabaTokenService,
    private readonly metrics: MetricsService,
    @Inject(FAIL_FAST_REDIS) redis: RedisClient,
  ) {
    this.gate = new FleetRateGate(
      redis,
      `${config.queuePrefix}:alibaba-rate-log`,
      config.alibabaApiRateLimit,
      () => this.rateMarginMs(),
      ALIBABA_MARGIN.maxMs,
    );
  }

  /**
   * How long `api` takes to answer now, from admission to answer, leaning high: the median of its
   * recent calls (of any API's when it has none yet), or its last one when that was slower, so
   * that 1688 slowing down shows at once (one call in flight too many costs little, one too few a
   * share of the limit). Null before any answer.
   */
  answerTimeMs(api: AlibabaApi): number | null {
    const median = this.answerTimes.medianMs(api.name);
    const last = this.answerTimes.lastMs(api.name);
    return median === null ? last : Math.max(median, last ?? 0);
  }

  /** The widening of the fleet gate's one-second window now in force (ms). */
  rateMarginMs(): number {
    return this.margin.marginMs();
  }

  async call(api: AlibabaApi, params: Record<string, string>, signal?: AbortSignal): Promise<AlibabaAnswer> {
    let tokenRefreshed = false;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      try {
        return await this.callOnce(api, params, signal);
      } catch (error) {
        if (!(error instanceof AlibabaApiError)) throw error;
        if (error.kind === 'auth' && api.needsToken && !tokenRefreshed) {
          tokenRefreshed = true;
          await this.tokens.refused(await this.tokens.token());
          continue;
        }
        const retryable = error.kind === 'rate-limited' || error.kind === 'unavailable' || error.kind === 'bad-answer';
        if (!retryable || attempt > this.config.alibabaApiRetries) throw error;
        const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1)) * (error.kind === 'rate-limited' ? 2 : 1);
        const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
        this.logger.warn({
          msg: '1688 call failed; retrying',
          api: api.name,
          kind: error.kind,
          attempt,
          delayMs: delay,
          err: error.message,
        });
        await sleep(delay, signal);
      }
    }
  }

  private async callOnce(api: AlibabaApi, params: Record<string, string>, signal?: AbortSignal): Promise<AlibabaAnswer> {
    const urlPath = urlPathOf(api, this.config.alibabaAppKey);
    const all: Record<string, string> = { ...params, _aop_timestamp: String(Date.now()) };
    if (api.needsToken) all.access_token = await this.tokens.token();
    all._aop_signature = aopSignature(this.config.alibabaAppSecret, Object.entries(all), urlPath);
    const admittedAt = await this.gate.admit(signal);
    const url = `${this.config.alibabaApiUrl.replace(/\/+$/, '')}/${urlPath}`;
    let response: Response;
    let text: string;
    const timeout = AbortSignal.timeout(this.config.alibabaApiTimeoutMs);
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: new URLSearchParams(all),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      // To the answer's headers: reading a big body is not part of the way there.
      const answeredMs = performance.now() - admittedAt;
      this.margin.record(answeredMs);
      this.answerTimes.record(api.name, answeredMs);
      text = await readText(response);
    } catch (error) {
      if (signal?.aborted) throw error;
      this.count(api, 'unavailable');
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new AlibabaApiError(
        'unavailable',
        api.name,
        `no answer (${cause === 'TimeoutError' ? `timed out after ${this.config.alibabaApiTimeoutMs} ms` : cause})`,
      );
    }
    try {
      const answer = this.interpret(api, response.status, text);
      this.count(api, 'ok');
      return answer;
    } catch (error) {
      this.count(api, error instanceof AlibabaApiError ? error.kind : 'error');
      throw error;
    }
  }

  /** An answer, or the error it holds: `error_code`/`error_message` (4xx/5xx) or `errorCode`/`errorMessage` (HTTP 200). */
  private interpret(api: AlibabaApi, status: number, text: string): AlibabaAnswer {
    let body: unknown;
    try {
      body = parseLosslessJson(text);
    } catch {
      throw new AlibabaApiError(
        status >= 500 ? 'unavailable' : 'bad-answer',
        api.name,
        `answer ${status} is not JSON: ${text.slice(0, 200)}`,
        null,
        status,
      );
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw new AlibabaApiError('bad-answer', api.name, `answer ${status} is not a JSON object`, null, status);
    const answer = body as AlibabaAnswer;
    const code = answer.error_code ?? answer.errorCode;
    const failed =
      status >= 400 || (code !== undefined && code !== null && code !== '') || answer.success === false || answer.success === 'false';
    if (!failed) return answer;
    const codeText = fieldText(code);
    const message =
      fieldText(answer.error_message ?? answer.errorMessage ?? answer.errorMsg ?? answer.exception) ||
      (status >= 400 ? `HTTP ${status}` : 'success is false');
    throw new AlibabaApiError(
      errorKindOf(codeText, status),
      api.name,
      `${codeText || status}: ${message.slice(0, 300)}`,
      codeText || null,
      status,
    );
  }

  private count(api: AlibabaApi, outcome: string): void {
    this.metrics.alibabaApiCalls.inc({ api: api.name, outcome });
  }
}

async function readText(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_ANSWER_BYTES) throw new Error(`answer of ${length} bytes is over ${MAX_ANSWER_BYTES}`);
  return response.text();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });
}
