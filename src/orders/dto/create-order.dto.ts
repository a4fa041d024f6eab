import { ApiProperty } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsObject, IsString, Matches, ValidateNested } from 'class-validator';
import { ORDER_ID_MESSAGE, ORDER_ID_PATTERN } from '../../common/validation.js';

/** Largest payload accepted per order, serialized. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;

export class CreateOrderDto {
  /** The order's id, also its idempotency key. */
  @IsString()
  @Matches(ORDER_ID_PATTERN, { message: `id ${ORDER_ID_MESSAGE}` })
  @ApiProperty({ description: 'the order id, also its idempotency key (and the Idempotency-Key sent to the supplier)', maxLength: 128 })
  id: string;

  @IsObject({ message: 'payload must be a JSON object' })
  // Kept as parsed: its numbers are LosslessNumbers, which a class transformation would flatten.
  @Transform(({ obj }: { obj: { payload: unknown } }) => obj.payload, { toClassOnly: true })
  @ApiProperty({ description: 'sent to the supplier as is (at most 64 KiB)', type: 'object', additionalProperties: true })
  payload: Record<string, unknown>;
}

export class CreateOrdersBatchDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1_000)
  @IsObject({ each: true, message: 'each of orders must be an object { id, payload }' })
  @ValidateNested({ each: true })
  @Type(() => CreateOrderDto)
  @ApiProperty({ type: [CreateOrderDto], maxItems: 1_000 })
  orders: CreateOrderDto[];
}
