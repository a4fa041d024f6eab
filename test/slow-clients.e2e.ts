import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestService, type TestService } from './support/service.js';

/** Slow and hostile clients: nothing may hold a socket, a buffer or the shutdown for ever. */
let t: TestService;

beforeAll(async () => {
  t = await startTestService('slow', { REQUEST_TIMEOUT_MS: '1500', SHUTDOWN_GRACE_MS: '6000' });
});
afterAll(async () => {
  await t?.stop();
});

/** A raw connection that collects what the server says and notes when it closes. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let text = '';
    let isClosed = false;
    const socket = connect(port, '127.0.0.1', () => resolve({ socket, received: () => text, closed: () => isClosed }));
    socket.on('data', (chunk) => (text += chunk.toString()));
    socket.on('close', () => (isClosed = true));
    socket.on('error', reject);
  });
}

describe('slow clients', () => {
  it('answers 408 and closes the connection of a client that sends headers and part of a body, then stops', async () => {
    const port = Number(new URL(t.baseUrl).port);
    const client = await rawClient(port);
    const started = Date.now();
    client.socket.write(
      'POST /webhooks/1688 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nmessage=%7B',
    );
    await eventually(() => (client.closed() ? true : undefined), 10_000, 'the slow connection to be closed');
    expect(client.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('closes a client that never finishes its headers', async () => {
    const port = Number(new URL(t.baseUrl).port);
    const client = await rawClient(port);
    client.socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    await eventually(() => (client.closed() ? true : undefined), 10_000, 'the header-trickling connection to be closed');
    expect(client.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('shuts down within its grace while a client trickles a body in', async () => {
    const slow = await startTestService('slow_shutdown', { REQUEST_TIMEOUT_MS: '60000', SHUTDOWN_GRACE_MS: '4000' });
    const client = await rawClient(Number(new URL(slow.baseUrl).port));
    client.socket.write(
      'POST /webhooks/1688 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nmessage=',
    );
    const timer = setInterval(() => client.socket.write('a'), 200);
    const started = Date.now();
    try {
      await slow.stop();
    } finally {
      clearInterval(timer);
      client.socket.destroy();
    }
    // The drain waits half the grace, then cuts what is left.
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(client.closed()).toBe(true);
  });
});
