import { describe, expect, it } from 'vitest';
import { prettyLine } from './pretty-lines.js';

describe('pretty log lines', () => {
  it('puts time, level and message first, then the fields', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 'warn',
        time: '2026-12-03T10:11:12.345Z',
        pid: 7,
        service: 'ordersync',
        msg: 'job failed',
        queue: 'order-events',
        attempt: 2,
        note: 'two words',
      }),
      false,
    );
    expect(line).toBe('10:11:12.345 WARN  job failed  queue=order-events attempt=2 note="two words"\n');
  });

  it('shows an error message inline and its stack indented below', () => {
    const line = prettyLine(
      JSON.stringify({
        level: 'error',
        time: '2026-12-03T10:11:12.345Z',
        msg: 'boom',
        err: { message: 'bad', stack: 'Error: bad\n    at x' },
      }),
      false,
    );
    expect(line).toBe('10:11:12.345 ERROR boom  err="bad"\n    Error: bad\n        at x\n');
  });

  it('colours the level only when asked', () => {
    expect(prettyLine(JSON.stringify({ level: 'info', time: '2026-12-03T10:11:12.345Z', msg: 'm' }), true)).toContain('\x1b[32mINFO ');
    expect(prettyLine(JSON.stringify({ level: 'info', time: '2026-12-03T10:11:12.345Z', msg: 'm' }), false)).not.toContain('\x1b');
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(prettyLine('not json', false)).toBe('not json\n');
  });
});
