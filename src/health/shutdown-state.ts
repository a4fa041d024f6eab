import { Injectable } from '@nestjs/common';

/** Whether this instance is shutting down: readiness goes down first, before anything stops. */
@Injectable()
export class ShutdownState {
  draining = false;
}
