// @ts-check
// Scenario 6: Redis down for a minute under load (full run only). The private redis-server of
// scenario 2 is killed (kill -9) while 1688 pushes stream in and orders are created and
// dispatched, and started again from its directory 60 s later. Pushes during the outage get 503
// and are re-sent by the sender afterwards (it keeps trying for minutes, as 1688's re-sends and
// its message list would); nothing acknowledged is lost, nothing is dead-lettered, each order is
// sent once.
import { redisScenario } from './scenario-2-redis.mjs';

export default redisScenario({
  id: 'redis-outage',
  title: 'Redis down for 1 minute under load',
  fullOnly: true,
  seed: 66,
  deadlineMs: () => 420_000,
  estimateMs: () => 200_000,
  // Not part of --short; these settings are only used with --short --only redis-outage.
  short: {
    seconds: 40,
    rate: 200,
    orders: 600,
    senderAttempts: 40,
    senderMaxGapMs: 10_000,
    ordersOverFraction: 0.9,
    outages: [{ atMs: 8_000, how: 'kill -9', downMs: 20_000 }],
  },
  full: {
    seconds: 90,
    rate: 250,
    orders: 2_000,
    senderAttempts: 40,
    senderMaxGapMs: 10_000,
    ordersOverFraction: 0.9,
    outages: [{ atMs: 15_000, how: 'kill -9', downMs: 60_000 }],
  },
});
