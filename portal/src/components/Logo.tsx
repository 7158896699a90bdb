import { Group, Text } from '@mantine/core';

/** Logo is berth's mark: an anchor-free harbour berth with a container on it. */
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <Group gap={8} wrap="nowrap">
      <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true">
        <rect x="1" y="1" width="30" height="30" rx="8" fill="var(--mantine-color-blue-filled)" />
        <rect x="7" y="9" width="18" height="9" rx="1.5" fill="#fff" />
        <path d="M11 9v9M15 9v9M19 9v9" stroke="var(--mantine-color-blue-filled)" strokeWidth="1.4" />
        <path d="M5 22h22" stroke="#fff" strokeWidth="2.2" strokeLinecap="round" />
        <path d="M9 25.5h14" stroke="#fff" strokeOpacity=".6" strokeWidth="1.8" strokeLinecap="round" />
      </svg>
      <Text fw={700} fz={20} style={{ letterSpacing: -0.5 }}>
        berth
      </Text>
    </Group>
  );
}
