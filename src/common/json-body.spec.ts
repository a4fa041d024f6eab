import { BadRequestException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonDepth, parseJsonBody, unstorableJsonReason } from './json-body.js';

describe('jsonDepth', () => {
  it('counts nesting outside strings only', () => {
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonDepth('{"a":"[[[[{{{{\\"]]"}')).toBe(1);
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('['.repeat(10_000) + ']'.repeat(10_000))).toBe(MAX_JSON_DEPTH + 1);
  });
});

describe('parseJsonBody', () => {
  it('parses JSON and refuses empty, malformed and too deep bodies with a 400', () => {
    expect(parseJsonBody(Buffer.from('{"a":1}'))).toEqual({ value: { a: 1 } });
    for (const bad of [
      '',
      '  ',
      '{"a":',
      '['.repeat(100) + ']'.repeat(100),
      '{"a":{"__proto__":{"x":1}}}',
      '{"constructor":{"prototype":{}}}',
    ]) {
      expect(parseJsonBody(Buffer.from(bad)).error).toBeInstanceOf(BadRequestException);
    }
  });
});

describe('unstorableJsonReason', () => {
  it('finds NUL and unpaired surrogates in keys and values, at any depth', () => {
    expect(unstorableJsonReason({ a: ['x', { b: 'ok 订单 😀' }] })).toBeNull();
    expect(unstorableJsonReason({ a: ['x', { b: 'bad\u0000' }] })).toMatch(/payload\.a\[1\]\.b must not contain NUL/);
    expect(unstorableJsonReason({ ['k\u0000']: 1 })).toMatch(/a key in payload/);
    expect(unstorableJsonReason({ s: '\ud800' })).toMatch(/unpaired surrogate/);
  });
});
