/**
 * Pino's JSON lines made readable at a terminal: `12:00:01.234 INFO  message  key=value …`.
 * Written by hand rather than with pino-pretty, whose transport runs in a worker thread and
 * could lose the last lines of a crash; the JSON form stays the one for machines.
 */

const LEVEL_COLOURS: Record<string, string> = {
  fatal: '\x1b[35m',
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[32m',
  debug: '\x1b[36m',
  trace: '\x1b[90m',
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';

/** Fields every line has, shown in the line's head or not at all. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'service', 'hostname']);

export function prettyLine(json: string, colour: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const level = typeof entry.level === 'string' ? entry.level : 'info';
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const paint = (code: string | undefined, text: string) => (colour && code ? `${code}${text}${RESET}` : text);
  const head = `${paint(DIM, time)} ${paint(LEVEL_COLOURS[level], level.toUpperCase().padEnd(5))} ${typeof entry.msg === 'string' ? entry.msg : JSON.stringify(entry.msg ?? '')}`;
  const fields: string[] = [];
  let stack = '';
  for (const [key, value] of Object.entries(entry)) {
    if (HEAD_FIELDS.has(key)) continue;
    if (key === 'err' && value !== null && typeof value === 'object') {
      const err = value as { message?: unknown; stack?: unknown };
      fields.push(`err=${JSON.stringify(err.message ?? '')}`);
      if (typeof err.stack === 'string') stack = `\n${indent(err.stack)}`;
      continue;
    }
    fields.push(`${key}=${typeof value === 'string' && /^[^\s="]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  return `${head}${fields.length > 0 ? `  ${paint(DIM, fields.join(' '))}` : ''}${stack}\n`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/** A destination for pino that writes each line readably to stdout. */
export function prettyDestination(colour = process.stdout.isTTY === true): { write(line: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) process.stdout.write(prettyLine(line, colour));
    },
  };
}
