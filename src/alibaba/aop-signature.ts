import { createHmac } from 'node:crypto';

/**
 * 1688's `_aop_signature`: every parameter but `_aop_signature` itself as `key + value`, those
 * strings sorted (by UTF-16 code unit, as 1688's Java SDK does) and joined, after `urlPath` for
 * Open API calls (`param2/1/{namespace}/{api}/{appKey}`) and with nothing before them for pushes;
 * HMAC-SHA1 with the app secret, upper-case hex.
 */
export function aopSignature(appSecret: string, params: Iterable<readonly [string, string]>, urlPath = ''): string {
  const pieces: string[] = [];
  for (const [key, value] of params) if (key !== '_aop_signature') pieces.push(key + value);
  pieces.sort();
  return createHmac('sha1', appSecret)
    .update(urlPath + pieces.join(''), 'utf8')
    .digest('hex')
    .toUpperCase();
}
