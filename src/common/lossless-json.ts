import { LosslessNumber, isLosslessNumber, parse, stringify } from 'lossless-json';

/**
 * A number kept as its text, written back digit for digit. Unlike lossless-json's own class it
 * can be made without a value, as class-transformer does when it copies a body into a DTO.
 */
export class ExactNumber extends LosslessNumber {
  constructor(value?: string) {
    super(value ?? '0');
  }
}

/**
 * JSON whose numbers keep every digit. A number that a double would change (167539019420540001,
 * 1.0, 1e2) stays an ExactNumber holding its text; ordinary numbers stay numbers.
 */
export function parseLosslessJson(text: string, reviver?: (key: string, value: unknown) => unknown): unknown {
  return parse(text, reviver ?? null, parseNumber);
}

function parseNumber(text: string): number | ExactNumber {
  return String(Number(text)) === text ? Number(text) : new ExactNumber(text);
}

/** JSON text of a value that may hold LosslessNumbers, written with their digits as they came. */
export function stringifyLosslessJson(value: unknown): string {
  const text = stringify(value);
  if (text === undefined) throw new Error('value has no JSON form');
  return text;
}

export { isLosslessNumber };

/** Largest exponent or digit count accepted in a number: far beyond any real payload, within Postgres's numeric. */
const MAX_NUMBER_DIGITS = 1_000;

/** Why a JSON number text cannot be stored (jsonb keeps numbers as numeric), or null. */
export function unstorableNumberReason(text: string): string | null {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return `${text} is not a JSON number`;
  const digits = (match[1]?.length ?? 0) + (match[2]?.length ?? 0);
  const exponent = Math.abs(Number(match[3] ?? 0));
  if (digits > MAX_NUMBER_DIGITS || exponent > MAX_NUMBER_DIGITS)
    return `the number ${text.slice(0, 20)}… is too large (at most ${MAX_NUMBER_DIGITS} digits and exponent ${MAX_NUMBER_DIGITS})`;
  return null;
}
