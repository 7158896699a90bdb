import { useEffect, useMemo, useState } from 'react';
import { Badge, Group, Paper, Stack, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconListDetails, IconSearch } from '@tabler/icons-react';
import { useQuery } from 'urql';
import { graphql } from '@/gql';
import { EmptyState, ErrorState, PageHeader, TableSkeleton } from '@/components/Page';
import { Pager, usePager } from '@/components/Pager';
import { RelativeTime } from '@/components/Time';

const AuditLogsDocument = graphql(`
  query AuditLogs($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: AuditLogWhereInput) {
    auditLogs(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: { field: CREATED_AT, direction: DESC }) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        node {
          id
          actor
          operation
          resourceType
          resource
          project
          clientIP
          result
          detail
          createdAt
        }
      }
    }
  }
`);

/** AuditLogPage is the system-wide audit log for system admins. */
export function AuditLogPage() {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 250);
  const pager = usePager(50);
  const { reset } = pager;
  useEffect(() => reset(), [debounced, reset]);
  const where = useMemo(
    () =>
      debounced
        ? { or: [{ actorContainsFold: debounced }, { operationContainsFold: debounced }, { resourceContainsFold: debounced }, { projectContainsFold: debounced }] }
        : undefined,
    [debounced],
  );
  const [{ data, fetching, error }, refetch] = useQuery({ query: AuditLogsDocument, variables: { ...pager.variables, where } });
  const logs = data?.auditLogs.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  return (
    <>
      <PageHeader title="Audit log" subtitle="Who did what, when, from where." />
      <Paper withBorder radius="md">
        <Group p="sm">
          <TextInput placeholder="Filter by user, operation, resource or project" leftSection={<IconSearch size={16} />} value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={380} aria-label="Filter the audit log" />
        </Group>
        {error && !data ? (
          <Stack p="md">
            <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
          </Stack>
        ) : (
          <Table.ScrollContainer minWidth={820}>
            <Table verticalSpacing="xs" highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Time</Table.Th>
                  <Table.Th>User</Table.Th>
                  <Table.Th>Operation</Table.Th>
                  <Table.Th>Resource</Table.Th>
                  <Table.Th>Result</Table.Th>
                  <Table.Th>Client</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {fetching && !data ? (
                  <TableSkeleton columns={6} />
                ) : (
                  logs.map((l) => (
                    <Table.Tr key={l.id}>
                      <Table.Td>
                        <RelativeTime value={l.createdAt} fz="sm" />
                      </Table.Td>
                      <Table.Td fz="sm" fw={500}>
                        {l.actor || 'anonymous'}
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color="gray" style={{ textTransform: 'none' }}>
                          {l.operation}
                        </Badge>
                      </Table.Td>
                      <Table.Td fz="sm" style={{ wordBreak: 'break-all' }}>
                        <Text span c="dimmed" fz="xs">
                          {l.resourceType}{' '}
                        </Text>
                        {l.resource}
                        {l.detail && (
                          <Text fz="xs" c="dimmed">
                            {l.detail}
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Badge variant="light" color={/^(ok|success|allowed)$/i.test(l.result) ? 'green' : 'red'}>
                          {l.result}
                        </Badge>
                      </Table.Td>
                      <Table.Td fz="xs" c="dimmed">
                        {l.clientIP}
                      </Table.Td>
                    </Table.Tr>
                  ))
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {data && logs.length === 0 && (
          <EmptyState title={debounced ? 'No entry matches' : 'No audit entries yet'} icon={<IconListDetails size={26} />}>
            {debounced ? 'Try another filter.' : 'Sign-ins, pushes, deletions and changes appear here as they happen.'}
          </EmptyState>
        )}
        <Pager pager={pager} pageInfo={data?.auditLogs.pageInfo} total={data?.auditLogs.totalCount} shown={logs.length} noun="entries" />
        <div style={{ height: 8 }} />
      </Paper>
    </>
  );
}
