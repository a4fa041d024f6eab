/**
 * Hand-written field checks for the webhook hot path, with class-validator's rules and words
 * (class-validator costs more per push than the rest of the request). Each check appends what is
 * wrong to `problems` and says whether the value passed.
 */

/** Characters as class-validator's MaxLength counts them: a surrogate pair is one. */
export function characters(text: string): number {
  let pairs = 0;
  for (let i = 0; i < text.length - 1; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pairs++;
        i++;
      }
    }
  }
  return text.length - pairs;
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
