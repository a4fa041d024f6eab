import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { listenForPoolErrors } from './pg-pool.js';

describe('listenForPoolErrors', () => {
  it('gives every new client an error listener for life, so a cut connection is reported, not thrown', () => {
    const pool = new EventEmitter();
    const seen: string[] = [];
    listenForPoolErrors(pool, (error) => seen.push(error.message));
    const client = new EventEmitter();
    pool.emit('connect', client);
    // What pg-pool does when it hands the client over: its own listeners go.
    client.removeAllListeners('idle-error');
    expect(() => client.emit('error', new Error('terminating connection due to administrator command'))).not.toThrow();
    expect(() => pool.emit('error', new Error('idle client lost'))).not.toThrow();
    expect(seen).toEqual(['terminating connection due to administrator command', 'idle client lost']);
  });
});
