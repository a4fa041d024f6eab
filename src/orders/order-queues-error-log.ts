import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { ORDER_EVENTS_DLQ, ORDER_EVENTS_QUEUE } from '../queues/order-events.queue.js';
import { logQueueErrors } from '../queues/queue-error-log.js';

@Injectable()
export class OrderQueuesErrorLog {
  constructor(@InjectQueue(ORDER_EVENTS_QUEUE) events: Queue, @InjectQueue(ORDER_EVENTS_DLQ) deadLetters: Queue) {
    const logger = new Logger('Queues');
    logQueueErrors(events, logger);
    logQueueErrors(deadLetters, logger);
  }
}
