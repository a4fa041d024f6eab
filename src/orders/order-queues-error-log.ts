import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DISPATCH_RESULTS_DLQ, DISPATCH_RESULTS_QUEUE, DISPATCH_SCHEDULE_QUEUE, ORDER_DISPATCH_QUEUE } from '../queues/order-dispatch.queue.js';
import { ORDER_EVENTS_DLQ, ORDER_EVENTS_QUEUE } from '../queues/order-events.queue.js';
import { logQueueErrors } from '../queues/queue-error-log.js';

/** Connection errors of the queues this module holds, logged without flooding while Redis is away. */
@Injectable()
export class OrderQueuesErrorLog {
  constructor(
    @InjectQueue(ORDER_EVENTS_QUEUE) events: Queue,
    @InjectQueue(ORDER_EVENTS_DLQ) eventsDead: Queue,
    @InjectQueue(ORDER_DISPATCH_QUEUE) dispatch: Queue,
    @InjectQueue(DISPATCH_RESULTS_QUEUE) results: Queue,
    @InjectQueue(DISPATCH_RESULTS_DLQ) resultsDead: Queue,
    @InjectQueue(DISPATCH_SCHEDULE_QUEUE) schedule: Queue,
  ) {
    const logger = new Logger('Queues');
    for (const queue of [events, eventsDead, dispatch, results, resultsDead, schedule]) logQueueErrors(queue, logger);
  }
}
