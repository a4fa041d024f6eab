import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import type { AppConfig } from '../config/app-config.js';
import type { PinoNestLogger } from '../logging/logger.js';

/**
 * Longest route parameter: an order id of 128 characters, each up to 4 UTF-8 bytes, percent-encoded
 * (3 characters a byte). Fastify's default (100) would answer 414 to ids the API accepts.
 */
export const MAX_PARAM_LENGTH = 128 * 4 * 3;

/** The Fastify server under Nest: limits and timeouts for slow and hostile clients, request ids, our logger. */
export function createHttpAdapter(config: Pick<AppConfig, 'bodyLimitBytes' | 'requestTimeoutMs'>, logger: PinoNestLogger): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    return503OnClosing: true,
    // Headers and body must arrive within REQUEST_TIMEOUT_MS (408, connection closed); Node checks
    // every second rather than every 30 s, so a slow sender is cut off on time.
    requestTimeout: config.requestTimeoutMs,
    http: { connectionsCheckingInterval: Math.min(1_000, config.requestTimeoutMs) },
    // Idle keep-alive connections close after this (longer than common load balancers' idle timeout).
    keepAliveTimeout: 72_000,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    loggerInstance: logger.pino,
    // One line per failed request from our own hook, not two per request from Fastify.
    logController: new LogController({ disableRequestLogging: true }),
    // A request Node cannot even parse (headers too large, too slow) gets its 4xx and the
    // connection is closed, saying so, so that a keep-alive client does not reuse a dead socket.
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = JSON.stringify({
        statusCode: status,
        error: STATUS_CODES[status],
        message: `the request could not be read: ${error.code ?? error.message}`,
      });
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
  });
}
