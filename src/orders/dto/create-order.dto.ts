import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject, IsString, Matches, ValidateNested } from 'class-validator';
import { ORDER_ID_MESSAGE, ORDER_ID_PATTERN } from '../../common/validation.js';

/** Largest payload accepted per order, serialized. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export class CreateOrderDto {
  /** The order's id, also its idempotency key. */
  @IsString()
  @Matches(ORDER_ID_PATTERN, { message: `id ${ORDER_ID_MESSAGE}` })
  id: string;

  @IsObject({ message: 'payload must be a JSON object' })
  payload: Record<string, unknown>;
}

export class CreateOrdersBatchDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1_000)
  @IsObject({ each: true, message: 'each of orders must be an object { id, payload }' })
  @ValidateNested({ each: true })
  @Type(() => CreateOrderDto)
  orders: CreateOrderDto[];
}
