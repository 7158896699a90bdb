import { Text, Tooltip, type TextProps } from '@mantine/core';
import { formatExact, formatRelative } from '@/lib/format';

/** RelativeTime shows "3 hours ago" with the exact time on hover. */
export function RelativeTime({ value, empty = 'never', ...props }: { value?: string | null; empty?: string } & TextProps) {
  if (!value) {
    return (
      <Text span c="dimmed" {...props}>
        {empty}
      </Text>
    );
  }
  return (
    <Tooltip label={formatExact(value)} openDelay={300} withArrow>
      <Text span {...props} style={{ cursor: 'default', whiteSpace: 'nowrap' }}>
        <time dateTime={value}>{formatRelative(value)}</time>
      </Text>
    </Tooltip>
  );
}
