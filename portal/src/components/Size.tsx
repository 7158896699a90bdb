import { Text, Tooltip, type TextProps } from '@mantine/core';
import { formatBytes } from '@/lib/format';

/** Size shows a human size with the exact byte count on hover. */
export function Size({ bytes, ...props }: { bytes?: number | null } & TextProps) {
  if (bytes == null) return <Text span c="dimmed" {...props}>—</Text>;
  return (
    <Tooltip label={`${bytes.toLocaleString('en')} bytes`} openDelay={300} withArrow>
      <Text span {...props} style={{ cursor: 'default', whiteSpace: 'nowrap' }}>
        {formatBytes(bytes)}
      </Text>
    </Tooltip>
  );
}
