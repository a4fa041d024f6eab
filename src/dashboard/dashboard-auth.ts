import type { IncomingMessage, ServerResponse } from 'node:http';
import { KeyRing, bearerKey } from '../auth/key-ring.js';

/**
 * The dashboard can retry, promote and delete jobs (or empty a queue), so it needs an admin key:
 * `Authorization: Bearer <key>` for tools, or basic auth with the key as the password for a
 * browser. A client key (API_KEYS) gets 403.
 */
export function dashboardAuth(config: { apiKeys: string[]; adminApiKeys: string[] }) {
  const keys = new KeyRing(config);
  const deny = (response: ServerResponse, status: 401 | 403, message: string) => {
    response.statusCode = status;
    if (status === 401) response.setHeader('www-authenticate', 'Basic realm="ordersync queues", charset="UTF-8"');
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.end(JSON.stringify({ statusCode: status, error: status === 401 ? 'Unauthorized' : 'Forbidden', message }));
  };
  return (request: IncomingMessage, response: ServerResponse, next: () => void) => {
    const header = request.headers.authorization ?? '';
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header)?.[1];
    const given = bearerKey(header) ?? (basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':') : null);
    const role = given ? keys.roleOf(given) : null;
    if (role === 'admin') return next();
    if (role === 'client') return deny(response, 403, 'the queue dashboard needs a key from ADMIN_API_KEYS');
    deny(response, 401, 'an admin API key is required (Bearer, or basic auth with the key as password)');
  };
}
