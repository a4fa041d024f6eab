import { BadRequestException } from '@nestjs/common';
import { validateSync, type ValidationError } from 'class-validator';

/** Order ids: 1 to 128 characters, any script, no control characters or unpaired surrogates. */
export const ORDER_ID_PATTERN = /^[^\p{Cc}\p{Cs}]{1,128}$/u;
export const ORDER_ID_MESSAGE = 'must be 1 to 128 characters without control characters';
/** Free text that is stored (statuses, topics, event ids): no control characters. */
export const PLAIN_TEXT_PATTERN = /^[^\p{Cc}\p{Cs}]*$/u;
export const PLAIN_TEXT_MESSAGE = 'must not contain control characters or unpaired surrogates';

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
    throw new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: `invalid ${what}`,
      details: flattenValidationErrors(errors),
    });
  }
}
