import type { LoggerService } from '@nestjs/common';
import { pino, type Logger, type LoggerOptions } from 'pino';
import type { AppConfig } from '../config/app-config.js';
import { prettyDestination } from './pretty-lines.js';
import { requestContext } from './request-context.js';

/** Header and field names whose values are never written to a log. */
const REDACTED = [
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*["x-webhook-signature"]',
  '_aop_signature',
  '*._aop_signature',
  'password',
  '*.password',
];

/** The process's structured JSON logger (readable lines at a terminal); Fastify and Nest both write through it. */
export function createPino(config: Pick<AppConfig, 'logLevel'> & Partial<Pick<AppConfig, 'logFormat'>>): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    base: { pid: process.pid, service: 'ordersync' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Every line written while serving a request names it.
    mixin: () => requestContext.getStore() ?? {},
    redact: { paths: REDACTED, censor: '[redacted]' },
  };
  return config.logFormat === 'pretty' ? pino(options, prettyDestination()) : pino(options);
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Nest's logger interface over pino. Nest calls `logger.warn(message, ...params, context)`;
 * an object message becomes fields (its `msg` the message), a string param the message.
 */
export class PinoNestLogger implements LoggerService {
  constructor(readonly pino: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const rest = [...params];
    const fields: Record<string, unknown> = {};
    if (rest.length > 0 && typeof rest[rest.length - 1] === 'string') fields.context = rest.pop();
    let msg: string | undefined;
    if (message instanceof Error) {
      fields.err = message;
      msg = message.message;
    } else if (message !== null && typeof message === 'object') {
      const { msg: text, message: alt, ...others } = message as Record<string, unknown>;
      Object.assign(fields, others);
      msg = typeof text === 'string' ? text : typeof alt === 'string' ? alt : undefined;
    } else {
      msg = String(message);
    }
    for (const param of rest) {
      if (param instanceof Error) fields.err = param;
      else if (typeof param === 'string' && /\n\s+at /.test(param)) fields.stack = param;
      else if (typeof param === 'string') msg = msg ? `${msg}: ${param}` : param;
      else if (param !== null && typeof param === 'object') Object.assign(fields, param);
    }
    this.pino[level](fields, msg);
  }
}
