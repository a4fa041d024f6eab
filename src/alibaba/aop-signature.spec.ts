import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aopSignature } from './aop-signature.js';

/** Vectors computed independently (tools/gen-1688-signature-vectors.py, Python's standard library). */
interface Vector {
  name: string;
  secret: string;
  urlPath?: string;
  params: [string, string][] | Record<string, string>;
  signature: string;
}

const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/1688-open-api-signatures.json', import.meta.url), 'utf8')) as
  { vectors?: Vector[] } | Vector[];
const vectors: Vector[] = Array.isArray(fixture) ? fixture : (fixture.vectors ?? []);

describe('aopSignature', () => {
  it('has vectors to check against', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(4);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('%s', (_name, vector) => {
    const params = Array.isArray(vector.params) ? vector.params : Object.entries(vector.params);
    expect(aopSignature(vector.secret, params, vector.urlPath ?? '')).toBe(vector.signature);
  });

  it('gives the contract push vector', () => {
    const message =
      '{"msgId":123,"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":1586227869437,"userInfo":"b2b-1676547900b7bb3","data":{"orderId":167539019420540000,"currentStatus":"waitsellersend"}}';
    expect(aopSignature('test123', [['message', message]])).toBe('607268A312164B246810C1E4D054C0710D03D9FC');
  });
});
