import { registerDecorator, type ValidationOptions } from 'class-validator';

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * An ISO-8601 date or date-time as clients send them (`2026-11-22`, `2026-11-22T08:00:00Z`,
 * `2026-11-22T16:00:00.123+08:00`), as epoch ms; null for anything else: week dates
 * (`2020-W01`), ordinal dates, hours alone (`2020-01-01T10`), days that do not exist
 * (`2026-02-30`), out-of-range fields, year 0000. Without an offset the time is UTC, never local time.
 */
export function parseDateTime(text: string): number | null {
  const m = DATE_TIME.exec(text);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  // Year 0 does not exist for Postgres (1 BC is year 0 in ISO): 0001 to 9999.
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const utc = new Date(Date.UTC(2000, month - 1, day, hour, minute, second));
  utc.setUTCFullYear(year);
  if (utc.getUTCFullYear() !== year || utc.getUTCMonth() !== month - 1 || utc.getUTCDate() !== day) return null;
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const hours = Number(digits.slice(1, 3));
    const minutes = Number(digits.slice(3, 5));
    if (hours > 23 || minutes > 59) return null;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (hours * 60 + minutes);
  }
  return utc.getTime() + millis - offsetMinutes * 60_000;
}

export const DATE_TIME_MESSAGE =
  'must be an ISO-8601 date-time such as 2026-11-22T08:00:00Z (a calendar date; UTC when no offset is given)';

/** class-validator: a date-time {@link parseDateTime} reads. */
export function IsDateTime(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isDateTime',
      target: target.constructor,
      propertyName: propertyName as string,
      options: { message: `$property ${DATE_TIME_MESSAGE}`, ...options },
      validator: { validate: (value: unknown) => typeof value === 'string' && parseDateTime(value) !== null },
    });
}
