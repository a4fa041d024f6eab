import { BadRequestException } from '@nestjs/common';
import { validateSync, type ValidationError } from 'class-validator';

/** Order ids: 1 to 128 characters, any script, no control characters. */
export const ORDER_ID_PATTERN = /^[^\p{Cc}]{1,128}$/u;
export const ORDER_ID_MESSAGE = 'must be 1 to 128 characters without control characters';

export function flattenValidationErrors(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) => text.replace(error.property, path));
    return [...own, ...flattenValidationErrors(error.children ?? [], path)];
  });
}

/** Validates a DTO instance with class-validator; throws a 400 listing every problem. */
export function assertValid(instance: object, what: string): void {
  const errors = validateSync(instance, { forbidUnknownValues: true });
  if (errors.length > 0) {
    throw new BadRequestException({ statusCode: 400, error: 'Bad Request', message: `invalid ${what}`, details: flattenValidationErrors(errors) });
  }
}
