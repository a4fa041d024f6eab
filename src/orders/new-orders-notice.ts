import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { CLAIM_CREATED_JOB, DISPATCH_SCHEDULE_QUEUE, type ClaimCreatedJob } from '../queues/dispatch-schedule.queue.js';
import type { CreateResult } from './orders.service.js';

/**
 * Tells dispatch, through its schedule queue, that orders were just created, so that they are
 * sent soon. Never holds the answer to the client: the orders are stored either way, and when
 * this fails the next DISPATCH_CRON tick sends them.
 */
@Injectable()
export class NewOrdersNotice {
  private readonly logger = new Logger(NewOrdersNotice.name);

  constructor(@InjectQueue(DISPATCH_SCHEDULE_QUEUE) private readonly schedule: Queue<ClaimCreatedJob>) {}

  created(results: CreateResult[]): void {
    const orderIds = results.filter((result) => result.outcome === 'created').map((result) => result.id);
    if (orderIds.length === 0) return;
    this.schedule.add(CLAIM_CREATED_JOB, { orderIds }).catch((error: Error) => {
      this.logger.warn({
        msg: 'could not ask for an immediate dispatch; the schedule will send these orders',
        count: orderIds.length,
        err: error.message,
      });
    });
  }
}
