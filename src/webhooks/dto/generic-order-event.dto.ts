import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { IsDateTime } from '../../common/date-time.js';
import { ORDER_ID_MESSAGE, ORDER_ID_PATTERN, PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../../common/validation.js';

/** The body of `POST /webhooks/orders`. */
export class GenericOrderEventDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @Matches(PLAIN_TEXT_PATTERN, { message: `eventId ${PLAIN_TEXT_MESSAGE}` })
  @ApiProperty({ description: 'unique per event: the dedupe key', maxLength: 200 })
  eventId: string;

  @IsString()
  @Matches(ORDER_ID_PATTERN, { message: `orderId ${ORDER_ID_MESSAGE}` })
  @ApiProperty({ description: 'our order id' })
  orderId: string;

  @IsOptional()
  @IsString()
  @Matches(ORDER_ID_PATTERN, { message: `supplierOrderId ${ORDER_ID_MESSAGE}` })
  @ApiPropertyOptional()
  supplierOrderId?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  @Matches(PLAIN_TEXT_PATTERN, { message: `status ${PLAIN_TEXT_MESSAGE}` })
  @ApiProperty({ description: 'status at the supplier', maxLength: 64 })
  status: string;

  @IsDateTime()
  @ApiProperty({ description: 'when the status changed at the supplier (ISO-8601)', format: 'date-time' })
  occurredAt: string;
}
