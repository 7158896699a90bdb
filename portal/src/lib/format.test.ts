import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatExact, formatRelative, shortDigest, splitRepositoryName } from './format';

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [812, '812 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [5 * 1024 * 1024, '5 MiB'],
    [123.4 * 1024 * 1024, '123 MiB'],
    [2.25 * 1024 ** 3, '2.3 GiB'],
    [-1, '—'],
  ])('renders %d bytes as %s', (n, want) => {
    expect(formatBytes(n)).toBe(want);
  });
});

describe('formatCount', () => {
  it.each([
    [999, '999'],
    [1200, '1.2k'],
    [34_000, '34k'],
    [1_500_000, '1.5M'],
  ])('renders %d as %s', (n, want) => expect(formatCount(n)).toBe(want));
});

describe('formatRelative', () => {
  const now = new Date('2025-06-15T12:00:00Z');
  it.each([
    ['2025-06-15T11:59:40Z', 'just now'],
    ['2025-06-15T11:55:00Z', '5 minutes ago'],
    ['2025-06-15T09:00:00Z', '3 hours ago'],
    ['2025-06-14T12:00:00Z', 'yesterday'],
    ['2025-06-11T12:00:00Z', '4 days ago'],
    ['2025-03-15T12:00:00Z', '3 months ago'],
    ['2023-06-15T12:00:00Z', '2 years ago'],
    ['2025-06-18T12:00:00Z', 'in 3 days'],
  ])('says %s is %s', (iso, want) => expect(formatRelative(iso, now)).toBe(want));

  it('says never for a missing time', () => expect(formatRelative(null, now)).toBe('never'));
});

describe('formatExact', () => {
  it('renders the local time with its offset', () => {
    const s = formatExact('2025-06-15T12:00:00Z');
    expect(s).toMatch(/^2025-06-1\d \d\d:00:00 UTC/);
  });
});

describe('digests and names', () => {
  it('shortens a digest to 12 hex digits', () => {
    expect(shortDigest('sha256:0123456789abcdef0123')).toBe('sha256:0123456789ab');
  });
  it('splits a repository name into project and path', () => {
    expect(splitRepositoryName('team-a/tools/app')).toEqual({ project: 'team-a', path: 'tools/app' });
  });
});

describe('formatDuration', () => {
  const t = (ms: number) => new Date(Date.parse('2025-06-15T12:00:00Z') + ms).toISOString();
  it.each([
    [450, '450 ms'],
    [1500, '1.5 s'],
    [4000, '4 s'],
    [12_400, '12 s'],
    [184_000, '3 min 4 s'],
    [180_000, '3 min'],
    [3_720_000, '1 h 2 min'],
    [7_200_000, '2 h'],
  ])('renders %d ms as %s', (ms, want) => expect(formatDuration(t(0), t(ms))).toBe(want));

  it('counts up to now while there is no end', () => {
    expect(formatDuration(t(0), null, new Date(t(5000)))).toBe('5 s');
  });

  it('says nothing without a start', () => {
    expect(formatDuration(null, t(0))).toBe('—');
  });
});
