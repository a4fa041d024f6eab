import { BadRequestException } from '@nestjs/common';
import { isLosslessNumber, parseLosslessJson, unstorableNumberReason } from './lossless-json.js';

/** Deeper JSON than this is refused before anything walks it (validation recurses). */
export const MAX_JSON_DEPTH = 64;

/** How deep arrays and objects nest in JSON text, counted without parsing; stops past `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function badRequest(message: string): Error {
  return new BadRequestException(message);
}

/**
 * Parses a JSON request body, refusing empty, malformed and too deeply nested ones with a 400.
 * `lossless` keeps every number's digits (order payloads); elsewhere plain JSON.parse is faster.
 */
export function parseJsonBody(body: Buffer, options: { lossless?: boolean } = {}): { value?: unknown; error?: Error } {
  const text = body.toString('utf8');
  if (text.trim() === '') return { error: badRequest('the body is empty; JSON was expected') };
  if (jsonDepth(text) > MAX_JSON_DEPTH) return { error: badRequest(`JSON nested more than ${MAX_JSON_DEPTH} levels deep`) };
  try {
    // Keys that would poison a prototype further along are refused, as Fastify's own parser does.
    const reviver = /"(?:__proto__|constructor)"/.test(text) ? refusePrototypeKeys : undefined;
    return { value: options.lossless ? parseLosslessJson(text, reviver) : JSON.parse(text, reviver) };
  } catch (error) {
    return { error: badRequest(`the body is not valid JSON: ${(error as Error).message}`) };
  }
}

function refusePrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__' || (key === 'constructor' && value !== null && typeof value === 'object' && 'prototype' in value)) {
    throw new Error(`the key "${key}" is not allowed`);
  }
  return value;
}

/** Characters Postgres cannot store in text or jsonb: NUL, and UTF-16 surrogates without a pair. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what Postgres refuses.
export const STORABLE_TEXT = /^[^\u0000\p{Cs}]*$/u;
export const STORABLE_TEXT_MESSAGE = 'must not contain NUL or unpaired surrogate characters';

/** Why a JSON value cannot be stored as jsonb, or null when it can. */
export function unstorableJsonReason(value: unknown, path = 'payload'): string | null {
  if (typeof value === 'string') return STORABLE_TEXT.test(value) ? null : `${path} ${STORABLE_TEXT_MESSAGE}`;
  if (isLosslessNumber(value)) {
    const reason = unstorableNumberReason(value.value);
    return reason ? `${path}: ${reason}` : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const reason = unstorableJsonReason(value[i], `${path}[${i}]`);
      if (reason) return reason;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (!STORABLE_TEXT.test(key)) return `a key in ${path} ${STORABLE_TEXT_MESSAGE}`;
      const reason = unstorableJsonReason(item, `${path}.${key}`);
      if (reason) return reason;
    }
  }
  return null;
}
