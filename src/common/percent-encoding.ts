const UNRESERVED = /^[A-Za-z0-9\-_.~]$/;

/**
 * Percent-encodes every UTF-8 byte outside `A-Z a-z 0-9 - _ . ~` (so `%` too), upper-case hex.
 * One-to-one: two different strings never share an encoding, and text made only of unreserved
 * characters stays as it is. Used wherever an id must become a header value or a BullMQ job id.
 */
export function strictPercentEncode(text: string): string {
  let out = '';
  for (const char of text) {
    if (UNRESERVED.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of {@link strictPercentEncode}. */
export function strictPercentDecode(encoded: string): string {
  return decodeURIComponent(encoded);
}
