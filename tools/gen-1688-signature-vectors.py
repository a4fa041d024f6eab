#!/usr/bin/env python3
"""Signature test vectors for 1688's `_aop_signature`, computed independently of any JS code.

    python3 tools/gen-1688-signature-vectors.py > test/fixtures/1688-open-api-signatures.json

Python 3 standard library only. The rule (1688 Open Platform, official SDKs):

  signature = HEX UPPER( HMAC-SHA1( appSecret, urlPath + "".join(sorted(k + v for every k, v)) ) )

- every parameter except `_aop_signature` takes part, `access_token` and `_aop_timestamp` included;
  an empty value still contributes its key;
- the `key + value` strings are sorted as whole strings (what the official Java SDK does), not
  by key: the two differ when one key is a prefix of another (case "key-value-order");
- strings are compared as Java and JavaScript compare them, by UTF-16 code unit, which differs
  from Python's code point order only for characters outside the BMP (case "utf16-order");
- the bytes signed are the UTF-8 encoding of the text, values decoded (not form-encoded);
- urlPath is `param2/1/{namespace}/{api}/{appKey}` for an Open API call and empty for a push
  (1688 signs a push's form fields alone: HMAC-SHA1(secret, "message" + messageJson)).

Each vector: name, what, urlPath, params (an object of strings; order irrelevant), secret,
signed (the exact text that goes into the HMAC) and signature.
"""

import hashlib
import hmac
import json
import sys

APP_KEY = "1234567"
SECRET = "fake-1688-app-secret"


def utf16_key(text):
    """Sort key that orders strings by UTF-16 code units, as Java's String.compareTo does."""
    return text.encode("utf-16-be")


def signed_text(url_path, params):
    pieces = [key + value for key, value in params.items() if key != "_aop_signature"]
    pieces.sort(key=utf16_key)
    return url_path + "".join(pieces)


def sign(secret, url_path, params):
    text = signed_text(url_path, params)
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).hexdigest()
    return text, digest.upper()


def url_path(namespace, api, app_key=APP_KEY):
    return "param2/1/%s/%s/%s" % (namespace, api, app_key)


PUSH_MESSAGE = (
    '{"msgId":123,"type":"ORDER_BUYER_VIEW_ORDER_PAY","gmtBorn":1586227869437,'
    '"userInfo":"b2b-1676547900b7bb3","data":{"orderId":167539019420540000,'
    '"currentStatus":"waitsellersend"}}'
)

CASES = [
    {
        "name": "push-contract",
        "what": "the contract's push vector: one field, no urlPath",
        "urlPath": "",
        "params": {"message": PUSH_MESSAGE},
        "secret": "test123",
        "expect": "607268A312164B246810C1E4D054C0710D03D9FC",
    },
    {
        "name": "trade-order-list",
        "what": "getBuyerOrderList with a token, a timestamp, China-time dates and non-ASCII values",
        "urlPath": url_path("com.alibaba.trade", "alibaba.trade.getBuyerOrderList"),
        "params": {
            "modifyStartTime": "20260301000000000+0800",
            "modifyEndTime": "20260301235959999+0800",
            "page": "1",
            "pageSize": "50",
            "productName": "测试商品 ü & 100%",
            "sellerLoginId": "b测试账号110",
            "access_token": "f14da3b8-b0b1-4f73-a5de-9bed637e0188",
            "_aop_timestamp": "1772294400000",
        },
        "secret": SECRET,
    },
    {
        "name": "confirm-big-ids",
        "what": "push.message.confirm with msgIdList holding numbers above 2^53, kept as typed",
        "urlPath": url_path("cn.alibaba.open", "push.message.confirm"),
        "params": {
            "msgIdList": "[167539019420540001,9007199254740993123,5000001]",
            "_aop_timestamp": "1772294400000",
        },
        "secret": SECRET,
    },
    {
        "name": "empty-value",
        "what": "an empty value still contributes its key",
        "urlPath": url_path("cn.alibaba.open", "push.query.messageList"),
        "params": {
            "createStartTime": "20260301000000000+0800",
            "createEndTime": "20260302000000000+0800",
            "page": "1",
            "pageSize": "200",
            "type": "",
            "_aop_timestamp": "1772294400000",
        },
        "secret": SECRET,
    },
    {
        "name": "key-value-order",
        "what": "'typeList[..]' sorts before 'typeORDER..' as key+value strings, after it as keys",
        "urlPath": url_path("cn.alibaba.open", "push.query.messageList"),
        "params": {
            "type": "ORDER_BUYER_VIEW_ORDER_PAY",
            "typeList": '["ORDER_BUYER_VIEW_ORDER_SUCCESS"]',
            "page": "2",
            "_aop_timestamp": "1772294400000",
        },
        "secret": SECRET,
    },
    {
        "name": "utf16-order",
        "what": "U+1F600 sorts before U+FF5E by UTF-16 code unit (Java, JS), after it by code point",
        "urlPath": url_path("com.alibaba.trade", "alibaba.trade.get.buyerView"),
        "params": {
            "x": "\U0001F600",
            "x\uFF5E": "1",
            "webSite": "1688",
            "orderId": "167539019420540001",
            "_aop_timestamp": "1772294400000",
        },
        "secret": SECRET,
    },
]


def main():
    vectors = []
    for case in CASES:
        text, signature = sign(case["secret"], case["urlPath"], case["params"])
        expect = case.get("expect")
        if expect is not None and expect != signature:
            sys.exit("vector %s: got %s, the contract says %s" % (case["name"], signature, expect))
        vectors.append(
            {
                "name": case["name"],
                "what": case["what"],
                "urlPath": case["urlPath"],
                "params": case["params"],
                "secret": case["secret"],
                "signed": text,
                "signature": signature,
            }
        )
    # The two ordering cases must really order differently from the naive rules they guard against.
    kv = next(c for c in CASES if c["name"] == "key-value-order")["params"]
    by_key = "".join(k + kv[k] for k in sorted(kv))
    if by_key == "".join(sorted((k + v for k, v in kv.items()), key=utf16_key)):
        sys.exit("key-value-order: sorting by key gives the same text; pick other keys")
    u16 = next(c for c in CASES if c["name"] == "utf16-order")["params"]
    if sorted(k + v for k, v in u16.items()) == sorted((k + v for k, v in u16.items()), key=utf16_key):
        sys.exit("utf16-order: code point and UTF-16 orders agree; pick other characters")
    out = {
        "generator": "tools/gen-1688-signature-vectors.py",
        "rule": "HEX UPPER HMAC-SHA1(secret, urlPath + concat(sort(key + value))), sorted by UTF-16 code unit, UTF-8 bytes",
        "vectors": vectors,
    }
    json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
