import { ActionIcon, Code, CopyButton, Group, Tooltip, type MantineSize } from '@mantine/core';
import { IconCheck, IconCopy } from '@tabler/icons-react';

/** CopyIcon copies a value, confirming with a check mark. */
export function CopyIcon({ value, label = 'Copy', size = 'md' }: { value: string; label?: string; size?: MantineSize }) {
  return (
    <CopyButton value={value} timeout={1500}>
      {({ copied, copy }) => (
        <Tooltip label={copied ? 'Copied' : label} withArrow position="left">
          <ActionIcon
            color={copied ? 'teal' : 'gray'}
            variant="subtle"
            size={size}
            onClick={copy}
            aria-label={label}
            data-copied={copied || undefined}
          >
            {copied ? <IconCheck size={16} /> : <IconCopy size={16} />}
          </ActionIcon>
        </Tooltip>
      )}
    </CopyButton>
  );
}

/** CopyCommand is a one-line command or value in a code box with a copy button. */
export function CopyCommand({ value, label = 'Copy command', testId }: { value: string; label?: string; testId?: string }) {
  return (
    <Group
      gap={4}
      wrap="nowrap"
      data-testid={testId}
      style={{
        border: '1px solid var(--mantine-color-default-border)',
        borderRadius: 'var(--mantine-radius-sm)',
        background: 'var(--mantine-color-default-hover)',
        paddingLeft: 10,
      }}
    >
      <Code
        style={{ flex: 1, background: 'transparent', whiteSpace: 'nowrap', overflowX: 'auto', padding: '6px 0', fontSize: 13 }}
      >
        {value}
      </Code>
      <CopyIcon value={value} label={label} />
    </Group>
  );
}
