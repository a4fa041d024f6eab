import { Injectable } from '@nestjs/common';
import type { DeadLetterJob } from './dead-letter.js';

export type Redrive = (deadLetter: DeadLetterJob<unknown>) => Promise<void>;

/**
 * How each queue's dead letters are retried, registered by the module that owns the queue.
 * A queue with none gets its job back under its original job id.
 */
@Injectable()
export class DeadLetterRedrivers {
  private readonly byQueue = new Map<string, Redrive>();

  register(queue: string, redrive: Redrive): void {
    this.byQueue.set(queue, redrive);
  }

  for(queue: string): Redrive | undefined {
    return this.byQueue.get(queue);
  }
}
