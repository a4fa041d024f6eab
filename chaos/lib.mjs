// @ts-check
// Shared machinery of the chaos suite (chaos/run.mjs), by concern:
//   lib/common.mjs     where Postgres and Redis are, credentials, sleep, ports, control calls
//   lib/reaper.mjs     the reaper process that cleans up however the suite ends; the dist/ snapshot
//   lib/processes.mjs  service processes (on tools/lib/harness-service.mjs), a private redis-server,
//                      a TCP gate that makes the fake supplier refuse connections
//   lib/context.mjs    a scenario: its database, queue prefix, processes, figures, checks, cleanup
//   lib/load.mjs       the 1688-like push sender and order creation
//   lib/outages.mjs    Postgres outages on the scenario's own database
//   lib/probes.mjs     samplers, readiness, /health/backlog, /queues, /metrics
//   lib/verify.mjs     waiting for the work, and the checks every scenario shares
//   lib/fleet.mjs      an API and workers, and the settings most scenarios use
// This file re-exports them for the scenarios.
export * from './lib/common.mjs';
export * from './lib/context.mjs';
export * from './lib/fleet.mjs';
export * from './lib/load.mjs';
export * from './lib/outages.mjs';
export * from './lib/probes.mjs';
export * from './lib/processes.mjs';
export * from './lib/reaper.mjs';
export * from './lib/verify.mjs';
