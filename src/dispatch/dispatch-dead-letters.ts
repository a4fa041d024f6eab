import { ConflictException, Injectable, type OnModuleInit } from '@nestjs/common';
import type { DeadLetterJob } from '../queues/dead-letter.js';
import { DeadLetterRedrivers } from '../queues/dead-letter-redrivers.js';
import { ORDER_DISPATCH_QUEUE, type DispatchOrderJob } from '../queues/order-dispatch.queue.js';
import { DispatchClaimsService } from './dispatch-claims.service.js';

/**
 * How a dispatch dead letter is retried: the order decides. A FAILED order goes back to PENDING
 * and is claimed and sent again, under the same Idempotency-Key.
 */
@Injectable()
export class DispatchDeadLetters implements OnModuleInit {
  constructor(
    private readonly redrivers: DeadLetterRedrivers,
    private readonly claims: DispatchClaimsService,
  ) {}

  onModuleInit(): void {
    this.redrivers.register(ORDER_DISPATCH_QUEUE, (deadLetter) => this.redrive(deadLetter as DeadLetterJob<DispatchOrderJob>));
  }

  private async redrive(deadLetter: DeadLetterJob<DispatchOrderJob>): Promise<void> {
    const { orderId } = deadLetter.data;
    if (!(await this.claims.retryFailed(orderId))) {
      throw new ConflictException(`order "${orderId}" is not FAILED any more; delete this dead letter instead`);
    }
  }
}
