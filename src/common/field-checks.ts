/**
 * Hand-written field checks for the webhook hot path, with class-validator's rules and words
 * (class-validator costs more per push than the rest of the request). Each check appends what is
 * wrong to `problems` and says whether the value passed.
 */

/**
 * Characters as class-validator's MaxLength counts them (validator's isLength): a surrogate pair
 * is one, and so is a character followed by a variation selector (U+FE0E, U+FE0F).
 */
export function characters(text: string): number {
  const presentationSequences = text.match(/[^\uFE0F\uFE0E][\uFE0F\uFE0E]/g)?.length ?? 0;
  const surrogatePairs = text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0;
  return text.length - presentationSequences - surrogatePairs;
}

export interface StringRule {
  /** Refuse ''. */
  notEmpty?: boolean;
  maxLength?: number;
  pattern?: RegExp;
  /** Said when the pattern does not match (default: "<name> must match <pattern>"). */
  patternMessage?: string;
  /** Said when the value is not a string (default: "<name> must be a string"). */
  typeMessage?: string;
}

export function checkString(problems: string[], name: string, value: unknown, rule: StringRule): value is string {
  if (typeof value !== 'string') {
    problems.push(rule.typeMessage ?? `${name} must be a string`);
    return false;
  }
  const before = problems.length;
  if (rule.notEmpty && value.length === 0) problems.push(`${name} should not be empty`);
  if (rule.maxLength !== undefined && characters(value) > rule.maxLength)
    problems.push(`${name} must be shorter than or equal to ${rule.maxLength} characters`);
  if (rule.pattern && !rule.pattern.test(value)) problems.push(rule.patternMessage ?? `${name} must match ${String(rule.pattern)}`);
  return problems.length === before;
}

/** Absent (undefined or null, as class-validator's IsOptional means it) or a string that passes. */
export function checkOptionalString(
  problems: string[],
  name: string,
  value: unknown,
  rule: StringRule,
): value is string | null | undefined {
  return value === undefined || value === null || checkString(problems, name, value, rule);
}

/** A plain object, as class-validator's IsObject says (arrays are not). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
