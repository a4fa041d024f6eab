import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The dashboard can retry and delete jobs, so it sits behind the API keys: `Authorization:
 * Bearer <key>` for tools, or basic auth with a key as the password for a browser.
 */
export function dashboardAuth(apiKeys: string[]) {
  const keys = apiKeys.map((key) => Buffer.from(key));
  const known = (given: string) => {
    const candidate = Buffer.from(given);
    let found = false;
    for (const key of keys) if (key.length === candidate.length && timingSafeEqual(key, candidate)) found = true;
    return found;
  };
  return (request: IncomingMessage, response: ServerResponse, next: () => void) => {
    const header = request.headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const basic = /^Basic\s+(\S+)\s*$/i.exec(header)?.[1];
    const password = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').slice(1).join(':') : undefined;
    if ((bearer && known(bearer)) || (password && known(password))) return next();
    response.statusCode = 401;
    response.setHeader('www-authenticate', 'Basic realm="ordersync queues", charset="UTF-8"');
    response.setHeader('content-type', 'application/json; charset=utf-8');
    response.end(JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: 'an API key is required (Bearer, or basic auth with the key as password)' }));
  };
}
