import { describe, expect, it } from 'vitest';
import { aopSignature } from '../alibaba/aop-signature.js';
import { hexSignaturesMatch, signGenericWebhook } from './signatures.js';

const VECTOR_MESSAGE =
  '{"msgId":123,"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":1586227869437,"userInfo":"b2b-1676547900b7bb3","data":{"orderId":167539019420540000,"currentStatus":"waitsellersend"}}';

describe('aopSignature', () => {
  it('matches the contract vector', () => {
    expect(aopSignature('test123', [['message', VECTOR_MESSAGE]])).toBe('607268A312164B246810C1E4D054C0710D03D9FC');
  });

  it('ignores _aop_signature and sorts key+value pieces', () => {
    const a = aopSignature('s', [
      ['b', '2'],
      ['a', '1'],
      ['_aop_signature', 'x'],
    ]);
    const b = aopSignature('s', [
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(a).toBe(b);
    expect(a).not.toBe(
      aopSignature('other', [
        ['a', '1'],
        ['b', '2'],
      ]),
    );
  });
});

describe('hexSignaturesMatch', () => {
  const expected = '607268A312164B246810C1E4D054C0710D03D9FC';
  it('accepts upper and lower case', () => {
    expect(hexSignaturesMatch(expected, expected)).toBe(true);
    expect(hexSignaturesMatch(expected, expected.toLowerCase())).toBe(true);
  });
  it.each([
    ['one digit off', '607268A312164B246810C1E4D054C0710D03D9FD'],
    ['truncated', '607268A312164B246810C1E4D054C0710D03D9F'],
    ['too long', '607268A312164B246810C1E4D054C0710D03D9FC0'],
    ['not hex', '607268A312164B246810C1E4D054C0710D03D9FZ'],
    ['empty', ''],
  ])('rejects %s', (_name, given) => {
    expect(hexSignaturesMatch(expected, given)).toBe(false);
  });
});

describe('signGenericWebhook', () => {
  it('signs timestamp + "." + rawBody with HMAC-SHA256 (vector from openssl dgst -sha256 -hmac)', () => {
    const expected = 'b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163';
    expect(signGenericWebhook('secret', '1700000000', '{}')).toBe(expected);
    expect(signGenericWebhook('secret', '1700000000', Buffer.from('{}'))).toBe(expected);
  });
});
