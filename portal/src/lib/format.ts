// Human-readable sizes, times and digests used across the portal. Every
// helper is pure so it can be tested without a browser.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** formatBytes renders a byte count with binary units: 0 B, 812 B, 1.5 KiB, 23.4 MiB. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  const digits = value >= 100 ? 0 : 1;
  return `${value.toFixed(digits).replace(/\.0$/, '')} ${UNITS[unit]}`;
}

/** formatCount renders a count compactly: 999, 1.2k, 34k, 1.5M. */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0).replace(/\.0$/, '')}k`;
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
}

const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
];

/**
 * formatRelative says how long ago (or how far ahead) a time is, in the
 * largest unit that fits: "just now", "5 minutes ago", "in 3 days".
 */
export function formatRelative(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return 'never';
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return '—';
  let diff = (then.getTime() - now.getTime()) / 1000;
  if (Math.abs(diff) < 45) return 'just now';
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, size] of STEPS) {
    if (Math.abs(diff) < size) return rtf.format(Math.round(diff), unit);
    diff /= size;
  }
  return rtf.format(Math.round(diff), 'year');
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** formatExact renders a time as local "YYYY-MM-DD HH:MM:SS" with its UTC offset, for tooltips. */
export function formatExact(iso: string | null | undefined): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const tz = off === 0 ? 'UTC' : `UTC${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${tz}`;
}

/**
 * formatDuration renders how long something took between two times (or
 * from start until now while it runs): "450 ms", "12 s", "3 min 4 s",
 * "1 h 2 min".
 */
export function formatDuration(startIso: string | null | undefined, endIso?: string | null, now: Date = new Date()): string {
  if (!startIso) return '—';
  const start = new Date(startIso).getTime();
  const end = endIso ? new Date(endIso).getTime() : now.getTime();
  if (Number.isNaN(start) || Number.isNaN(end)) return '—';
  const ms = Math.max(0, end - start);
  if (ms < 1000) return `${ms} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return ms < 10_000 ? `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s` : `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** shortDigest keeps the algorithm and the first 12 hex digits: sha256:0123456789ab. */
export function shortDigest(digest: string): string {
  const [alg, hex] = digest.split(':');
  if (!hex) return digest.slice(0, 12);
  return `${alg}:${hex.slice(0, 12)}`;
}

/** repoPath splits "team-a/tools/app" into its project and the path inside it. */
export function splitRepositoryName(name: string): { project: string; path: string } {
  const i = name.indexOf('/');
  if (i < 0) return { project: name, path: '' };
  return { project: name.slice(0, i), path: name.slice(i + 1) };
}
