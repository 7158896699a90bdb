import { Group, Progress, Text } from '@mantine/core';
import { formatBytes } from '@/lib/format';

/** quotaColor is the bar's colour: a warning from 80% of the quota, red when full. */
export function quotaColor(used: number, quota: number): string {
  const share = used / quota;
  if (share >= 1) return 'red';
  if (share > 0.8) return 'orange';
  return 'blue';
}

/**
 * QuotaBar shows a project's usage against its quota, with the figures;
 * nothing for a project without a quota (quotaBytes -1).
 */
export function QuotaBar({ used, quota, compact = false }: { used: number; quota: number; compact?: boolean }) {
  if (quota <= 0) return null;
  const percent = Math.min(100, (used / quota) * 100);
  const color = quotaColor(used, quota);
  const bar = (
    <Progress value={percent} color={color} size={compact ? 'xs' : 'sm'} w={compact ? 120 : 220} aria-label="Quota used" />
  );
  if (compact) return bar;
  return (
    <Group gap="xs" wrap="nowrap" data-testid="quota-bar">
      {bar}
      <Text fz="sm" c={color === 'blue' ? 'dimmed' : color}>
        {formatBytes(used)} of {formatBytes(quota)} ({Math.round((used / quota) * 100)}%)
      </Text>
    </Group>
  );
}
