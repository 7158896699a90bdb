import type { ReactNode } from 'react';
import { Alert, Anchor, Breadcrumbs, Button, Center, Group, Paper, Skeleton, Stack, Table, Text, ThemeIcon, Title } from '@mantine/core';
import { IconAlertTriangle, IconMoodEmpty } from '@tabler/icons-react';
import { Link } from 'react-router';
import type { CombinedError } from 'urql';
import { errorMessage } from '@/lib/errors';

/** PageHeader is a page's breadcrumbs, title, subtitle and actions. */
export function PageHeader({
  title,
  icon,
  crumbs,
  subtitle,
  actions,
  badges,
}: {
  title: ReactNode;
  icon?: ReactNode;
  crumbs?: { label: string; to: string }[];
  subtitle?: ReactNode;
  actions?: ReactNode;
  badges?: ReactNode;
}) {
  return (
    <Stack gap={6} mb="lg">
      {crumbs && crumbs.length > 0 && (
        <Breadcrumbs separatorMargin={6} fz="sm">
          {crumbs.map((c) => (
            <Anchor component={Link} to={c.to} key={c.to} fz="sm">
              {c.label}
            </Anchor>
          ))}
        </Breadcrumbs>
      )}
      <Group justify="space-between" align="flex-start" wrap="nowrap" gap="md">
        <Group gap="sm" wrap="nowrap" style={{ minWidth: 0 }}>
          {icon}
          <Stack gap={2} style={{ minWidth: 0 }}>
            <Group gap="xs" wrap="nowrap">
              <Title order={2} fz={24} style={{ overflowWrap: 'anywhere' }}>
                {title}
              </Title>
              {badges}
            </Group>
            {subtitle && (
              <Text c="dimmed" fz="sm">
                {subtitle}
              </Text>
            )}
          </Stack>
        </Group>
        {actions && <Group gap="xs" wrap="nowrap">{actions}</Group>}
      </Group>
    </Stack>
  );
}

/** TableSkeleton stands in for a table while it loads. */
export function TableSkeleton({ columns, rows = 5 }: { columns: number; rows?: number }) {
  return (
    <>
      {Array.from({ length: rows }, (_, r) => (
        <Table.Tr key={r} data-testid="skeleton-row">
          {Array.from({ length: columns }, (_, c) => (
            <Table.Td key={c}>
              <Skeleton height={14} width={c === 0 ? '70%' : '50%'} radius="sm" />
            </Table.Td>
          ))}
        </Table.Tr>
      ))}
    </>
  );
}

/** EmptyState tells the user what to do when a list has nothing in it. */
export function EmptyState({ title, children, action, icon }: { title: string; children?: ReactNode; action?: ReactNode; icon?: ReactNode }) {
  return (
    <Center py="xl">
      <Stack align="center" gap="xs" maw={640} w="100%">
        <ThemeIcon size={48} radius="xl" variant="light" color="gray">
          {icon ?? <IconMoodEmpty size={28} />}
        </ThemeIcon>
        <Text fw={600} fz="lg">
          {title}
        </Text>
        {children && (
          <Text c="dimmed" ta="center" fz="sm" component="div" w="100%">
            {children}
          </Text>
        )}
        {action}
      </Stack>
    </Center>
  );
}

/** ErrorState shows why a page could not load, with a retry. */
export function ErrorState({ error, onRetry }: { error: CombinedError | Error; onRetry?: () => void }) {
  return (
    <Alert color="red" icon={<IconAlertTriangle />} title="Could not load this page" my="md">
      <Stack gap="xs" align="flex-start">
        <Text fz="sm">{errorMessage(error)}</Text>
        {onRetry && (
          <Button size="xs" variant="light" color="red" onClick={onRetry}>
            Try again
          </Button>
        )}
      </Stack>
    </Alert>
  );
}

/** NotFound is the page for a missing project, repository or artifact. */
export function NotFound({ what, back }: { what: string; back?: { label: string; to: string } }) {
  return (
    <Paper withBorder p="xl" radius="md">
      <EmptyState title={`${what} not found`} icon={<IconAlertTriangle size={28} />} action={back && <Button component={Link} to={back.to} variant="light">{back.label}</Button>}>
        It may have been deleted, or you may not have access to it.
      </EmptyState>
    </Paper>
  );
}
