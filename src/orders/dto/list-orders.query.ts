import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsDateTime } from '../../common/date-time.js';
import { PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../../common/validation.js';
import { ORDER_STATUSES, type OrderStatus } from '../entities/order.entity.js';
import { MAX_CURSOR_LENGTH } from '../order-view.js';

export class ListOrdersQuery {
  @IsOptional()
  @IsIn(ORDER_STATUSES)
  status?: OrderStatus;

  @IsOptional()
  @IsString()
  @MaxLength(128)
  @Matches(PLAIN_TEXT_PATTERN, { message: `supplierOrderId ${PLAIN_TEXT_MESSAGE}` })
  supplierOrderId?: string;

  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(PLAIN_TEXT_PATTERN, { message: `supplierStatus ${PLAIN_TEXT_MESSAGE}` })
  supplierStatus?: string;

  @IsOptional()
  @IsDateTime()
  updatedSince?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000)
  limit?: number;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_CURSOR_LENGTH)
  cursor?: string;
}
