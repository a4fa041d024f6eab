// @ts-check
// Preloaded into the demo's child processes (`node --import <this file> dist/main.js`): when the
// process that started this one is gone (killed with SIGKILL, say, so that it could not stop its
// children), this process kills itself instead of living on as an orphan. Changes nothing else.
import process from 'node:process';

const parent = Number(process.env.DEMO_PARENT_PID) || process.ppid;

function parentAlive() {
  if (process.ppid !== parent) return false; // re-parented: the parent has exited
  try {
    process.kill(parent, 0);
    return true;
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'EPERM';
  }
}

const timer = setInterval(() => {
  if (!parentAlive()) process.kill(process.pid, 'SIGKILL');
}, 500);
timer.unref();
