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
 */

/** @type {Readonly<HarnessSecrets>} */
export const HARNESS_SECRETS = Object.freeze({
  appKey: 'test-app-key-0123456789',
  appSecret: 'test-app-secret-0123456789',
  webhookSecret: 'test-webhook-secret-0123456789',
  apiKey: 'test-api-key-0123456789',
  adminKey: 'test-admin-key-0123456789',
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
