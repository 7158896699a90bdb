// The audit log as a filterable, paginated table: the whole log for system
// admins, or one project's log (auditLogs(where: {project})) for its
// members from guest up.
import { useEffect, useMemo, useState } from 'react';
import { Badge, Group, Paper, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconListDetails, IconSearch } from '@tabler/icons-react';
import { useQuery } from 'urql';
import { graphql } from '@/gql';
import type { AuditLogWhereInput } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from './Page';
import { Pager, usePager } from './Pager';
import { RelativeTime } from './Time';

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

/** Operations recorded in a project's log: registry traffic and the project's mutations. */
export const PROJECT_OPERATIONS = [
  'pull',
  'push',
  'delete',
  'createTag',
  'deleteTag',
  'deleteArtifact',
  'copyArtifact',
  'deleteRepository',
  'addArtifactLabel',
  'removeArtifactLabel',
  'createLabel',
  'updateLabel',
  'deleteLabel',
  'addProjectMember',
  'updateProjectMember',
  'removeProjectMember',
  'createRobot',
  'updateRobot',
  'refreshRobotSecret',
  'deleteRobot',
  'createProject',
  'updateProject',
  'deleteProject',
];

/** Every operation berth records, for the system-wide log. */
export const ALL_OPERATIONS = [
  'login',
  ...PROJECT_OPERATIONS,
  'createUser',
  'updateUser',
  'deleteUser',
  'changePassword',
  'createAccessToken',
  'revokeAccessToken',
  'updateOIDCSettings',
  'resetOIDCSettings',
  'testOIDCConnection',
];

/**
 * auditWhere builds the filter: project and operation as exact matches at
 * the top level (where the API looks for the project a non-admin may read),
 * free text across actor, resource and operation.
 */
export function auditWhere({ project, operation, text }: { project?: string; operation?: string | null; text?: string }): AuditLogWhereInput | undefined {
  const where: AuditLogWhereInput = {};
  if (project) where.project = project;
  if (operation) where.operation = operation;
  if (text) where.or = [{ actorContainsFold: text }, { resourceContainsFold: text }, { operationContainsFold: text }, ...(project ? [] : [{ projectContainsFold: text }])];
  return Object.keys(where).length ? where : undefined;
}

/** AuditLogTable lists audit entries, newest first; with project set it shows only that project's and hides the project filter. */
export function AuditLogTable({ project }: { project?: string }) {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 250);
  const [projectFilter, setProjectFilter] = useState('');
  const [debouncedProject] = useDebouncedValue(projectFilter.trim(), 250);
  const [operation, setOperation] = useState<string | null>(null);
  const pager = usePager(50);
  const { reset } = pager;
  useEffect(() => reset(), [debounced, debouncedProject, operation, reset]);
  const where = useMemo(() => auditWhere({ project: project ?? debouncedProject, operation, text: debounced }), [project, debouncedProject, operation, debounced]);
  const [{ data, fetching, error }, refetch] = useQuery({ query: AuditLogsDocument, variables: { ...pager.variables, where } });
  const logs = data?.auditLogs.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const filtered = Boolean(debounced || operation || (!project && debouncedProject));

  return (
    <Paper withBorder radius="md">
      <Group p="sm" gap="sm">
        <TextInput
          placeholder={project ? 'Filter by user or resource' : 'Filter by user, resource or operation'}
          leftSection={<IconSearch size={16} />}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={300}
          aria-label="Filter the audit log"
        />
        <Select
          placeholder="Any operation"
          data={project ? PROJECT_OPERATIONS : ALL_OPERATIONS}
          value={operation}
          onChange={setOperation}
          searchable
          clearable
          w={220}
          aria-label="Operation"
          data-testid="audit-operation"
          comboboxProps={{ withinPortal: true }}
        />
        {!project && <TextInput placeholder="Project" value={projectFilter} onChange={(e) => setProjectFilter(e.currentTarget.value)} w={180} aria-label="Project" />}
      </Group>
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : (
        <Table.ScrollContainer minWidth={820}>
          <Table verticalSpacing="xs" highlightOnHover data-testid="audit-table">
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
                    <Table.Td fz="sm" fw={500} style={{ wordBreak: 'break-all' }}>
                      {l.actor || (
                        <Text span c="dimmed" fz="sm">
                          anonymous
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={l.operation === 'pull' ? 'blue' : l.operation === 'push' ? 'teal' : /delete|remove|revoke/i.test(l.operation) ? 'red' : 'gray'} style={{ textTransform: 'none' }}>
                        {l.operation}
                      </Badge>
                    </Table.Td>
                    <Table.Td fz="sm" style={{ wordBreak: 'break-all' }}>
                      <Text span c="dimmed" fz="xs">
                        {l.resourceType}{' '}
                      </Text>
                      {l.resource}
                      {!project && l.project && l.project !== l.resource && (
                        <Text span c="dimmed" fz="xs">
                          {' '}
                          in {l.project}
                        </Text>
                      )}
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
        <EmptyState title={filtered ? 'No entry matches' : 'No audit entries yet'} icon={<IconListDetails size={26} />}>
          {filtered ? 'Try another filter.' : project ? 'Pushes, pulls, deletions and changes in this project appear here as they happen.' : 'Sign-ins, pushes, deletions and changes appear here as they happen.'}
        </EmptyState>
      )}
      <Pager pager={pager} pageInfo={data?.auditLogs.pageInfo} total={data?.auditLogs.totalCount} shown={logs.length} noun="entries" />
      <div style={{ height: 8 }} />
    </Paper>
  );
}
