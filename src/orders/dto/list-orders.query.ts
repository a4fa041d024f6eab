import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { IsDateTime } from '../../common/date-time.js';
import { PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../../common/validation.js';
import { ORDER_STATUSES, type OrderStatus } from '../entities/order.entity.js';
import { MAX_CURSOR_LENGTH } from '../order-view.js';

export class ListOrdersQuery {
  @ApiPropertyOptional({ enum: ORDER_STATUSES, description: 'dispatch status' })
  @IsOptional()
  @IsIn(ORDER_STATUSES)
  status?: OrderStatus;

  @ApiPropertyOptional({ description: "1688's order id, digit for digit", maxLength: 128 })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  @Matches(PLAIN_TEXT_PATTERN, { message: `supplierOrderId ${PLAIN_TEXT_MESSAGE}` })
  supplierOrderId?: string;

  @ApiPropertyOptional({ description: 'the last 1688 status, e.g. waitsellersend', maxLength: 64 })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  @Matches(PLAIN_TEXT_PATTERN, { message: `supplierStatus ${PLAIN_TEXT_MESSAGE}` })
  supplierStatus?: string;

  @ApiPropertyOptional({ description: 'ISO-8601 date-time (UTC without an offset): orders updated at or after it', format: 'date-time' })
  @IsOptional()
  @IsDateTime()
  updatedSince?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1_000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page', maxLength: MAX_CURSOR_LENGTH })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_CURSOR_LENGTH)
  cursor?: string;
}
