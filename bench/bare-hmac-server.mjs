// @ts-check
// The ceiling for ingest: a bare node:http server that only checks a 1688 signature.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { HARNESS_SECRETS } from '../tools/lib/harness-secrets.mjs';

const secret = process.env.APP_SECRET ?? HARNESS_SECRETS.appSecret;
/**
 * @param {import('node:http').IncomingMessage} req
 * @param {import('node:http').ServerResponse} res
 */
function onPush(req, res) {
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const message = params.get('message') ?? '';
    const given = Buffer.from((params.get('_aop_signature') ?? '').toUpperCase());
    const expected = Buffer.from(createHmac('sha1', secret).update(`message${message}`).digest('hex').toUpperCase());
    const ok = given.length === expected.length && timingSafeEqual(given, expected);
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
    res.end(ok ? '{"success":true}' : '{"error":"bad signature"}');
  });
}
const server = createServer(onPush);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`ordersync started on ${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
