/** 1688 writes times as China time (UTC+8), `yyyyMMddHHmmssSSS+0800`. */
const CHINA_OFFSET_MS = 8 * 3_600_000;
const ALIBABA_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})?([+-]\d{4})?$/;

export function formatAlibabaTime(epochMs: number): string {
  const d = new Date(epochMs + CHINA_OFFSET_MS);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}${pad(d.getUTCMilliseconds(), 3)}+0800`;
}

/** Epoch ms of a 1688 time, or null when it is not one (an unreadable field of an answer). */
export function parseAlibabaTime(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = ALIBABA_TIME.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const millis = Number(m[7] ?? 0);
  const offset = m[8] ?? '+0800';
  const offsetMs = (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 3_600_000 + Number(offset.slice(3, 5)) * 60_000);
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(utc);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) return null;
  return utc - offsetMs;
}
