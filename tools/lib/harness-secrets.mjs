// @ts-check
// The credentials every harness gives the service it starts (test processes, the chaos suite,
// the benchmarks, the demo), in one place. Each is at least 16 characters and none is a
// placeholder, so that the service accepts them with NODE_ENV=production.
//
// The app secret, webhook secret and the two keys are the same strings as the constants of
// test/support/service.ts (APP_SECRET, WEBHOOK_SECRET, API_KEY, ADMIN_KEY), so that the test
// helpers that sign and authenticate with those constants work against a process started with
// these; test/support/service.ts may import them from here.

/**
 * @typedef {object} HarnessSecrets
 * @property {string} appKey ALIBABA_APP_KEY
 * @property {string} appSecret ALIBABA_APP_SECRET: signs 1688 pushes
 * @property {string} webhookSecret WEBHOOK_SECRET: signs generic webhooks
 * @property {string} apiKey a client key (API_KEYS): /orders and the read-only operations routes
 * @property {string} adminKey an operator key (ADMIN_API_KEYS): dead-letter actions, POST /dispatch/run, /admin/queues
 * @property {string} alibabaAccessToken ALIBABA_ACCESS_TOKEN against the fake 1688 Open API (valid there from its start)
 * @property {string} alibabaRefreshToken ALIBABA_REFRESH_TOKEN: the one refresh token the fake's getToken accepts
 */

/** @type {Readonly<HarnessSecrets>} */
export const HARNESS_SECRETS = Object.freeze({
  appKey: 'test-app-key-0123456789',
  appSecret: 'test-app-secret-0123456789',
  webhookSecret: 'test-webhook-secret-0123456789',
  apiKey: 'test-api-key-0123456789',
  adminKey: 'test-admin-key-0123456789',
  alibabaAccessToken: 'harness-1688-access-token-0123456789',
  alibabaRefreshToken: 'harness-1688-refresh-token-0123456789',
});

/**
 * @typedef {object} HarnessSecretEnv
 * @property {string} ALIBABA_APP_KEY
 * @property {string} ALIBABA_APP_SECRET
 * @property {string} WEBHOOK_SECRET
 * @property {string} API_KEYS
 * @property {string} ADMIN_API_KEYS
 * @property {string} ALIBABA_SYNC_ENABLED always 'false' here: with real-looking secrets the service would pull from the real 1688
 */

/**
 * The service's environment variables for these credentials.
 *
 * @param {{ extraApiKeys?: string[], extraAdminKeys?: string[] }} [options] more keys to accept besides the harness's
 * @returns {HarnessSecretEnv}
 */
export function harnessSecretEnv(options = {}) {
  const list = (/** @type {string[]} */ keys) => [...new Set(keys)].join(',');
  return {
    ALIBABA_APP_KEY: HARNESS_SECRETS.appKey,
    ALIBABA_APP_SECRET: HARNESS_SECRETS.appSecret,
    WEBHOOK_SECRET: HARNESS_SECRETS.webhookSecret,
    API_KEYS: list([HARNESS_SECRETS.apiKey, ...(options.extraApiKeys ?? [])]),
    ADMIN_API_KEYS: list([HARNESS_SECRETS.adminKey, ...(options.extraAdminKeys ?? [])]),
    // Never the real 1688 from a harness: a run that needs pulling points ALIBABA_API_URL at the fake and turns this on.
    ALIBABA_SYNC_ENABLED: 'false',
  };
}

/**
 * The fake 1688 Open API's options that make it accept the service these credentials configure
 * (app key and secret, access and refresh token): spread them into startFake1688OpenApi() /
 * spawnFake1688OpenApi() (tools/fake-1688-open-api.mjs).
 *
 * @returns {{ appKey: string, appSecret: string, accessToken: string, refreshToken: string }}
 */
export function fake1688Credentials() {
  return {
    appKey: HARNESS_SECRETS.appKey,
    appSecret: HARNESS_SECRETS.appSecret,
    accessToken: HARNESS_SECRETS.alibabaAccessToken,
    refreshToken: HARNESS_SECRETS.alibabaRefreshToken,
  };
}

/**
 * The service's environment for pulling from and sweeping against a fake 1688 Open API at `url`
 * (its …/openapi URL): ALIBABA_SYNC_ENABLED=true, ALIBABA_API_URL and the buyer's tokens. Throws
 * unless `url` is on this machine (127.0.0.1, ::1 or localhost): a harness never calls the real 1688.
 *
 * @param {string} url
 * @returns {{ ALIBABA_SYNC_ENABLED: string, ALIBABA_API_URL: string, ALIBABA_ACCESS_TOKEN: string, ALIBABA_REFRESH_TOKEN: string }}
 */
export function alibabaSyncEnv(url) {
  const { hostname, protocol } = new URL(url);
  if (protocol !== 'http:' || !['127.0.0.1', '[::1]', 'localhost'].includes(hostname))
    throw new Error(`ALIBABA_API_URL of a harness must be a local fake (http://127.0.0.1:…), got ${url}`);
  return {
    ALIBABA_SYNC_ENABLED: 'true',
    ALIBABA_API_URL: url,
    ALIBABA_ACCESS_TOKEN: HARNESS_SECRETS.alibabaAccessToken,
    ALIBABA_REFRESH_TOKEN: HARNESS_SECRETS.alibabaRefreshToken,
  };
}
