import { IsISO8601, IsNotEmpty, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { ORDER_ID_MESSAGE, ORDER_ID_PATTERN, PLAIN_TEXT_MESSAGE, PLAIN_TEXT_PATTERN } from '../../common/validation.js';

/** The body of `POST /webhooks/orders`. */
export class GenericOrderEventDto {
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  @Matches(PLAIN_TEXT_PATTERN, { message: `eventId ${PLAIN_TEXT_MESSAGE}` })
  eventId: string;

  @IsString()
  @Matches(ORDER_ID_PATTERN, { message: `orderId ${ORDER_ID_MESSAGE}` })
  orderId: string;

  @IsOptional()
  @IsString()
  @Matches(ORDER_ID_PATTERN, { message: `supplierOrderId ${ORDER_ID_MESSAGE}` })
  supplierOrderId?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  @Matches(PLAIN_TEXT_PATTERN, { message: `status ${PLAIN_TEXT_MESSAGE}` })
  status: string;

  @IsISO8601({ strict: true }, { message: 'occurredAt must be an ISO-8601 date-time' })
  occurredAt: string;
}
