import { useEffect, useMemo, useState } from 'react';
import { QuotaBar } from '@/components/QuotaBar';
import { Anchor, Badge, Button, Group, Paper, SegmentedControl, Select, SimpleGrid, Stack, Table, Text, TextInput, ThemeIcon } from '@mantine/core';
import { useDebouncedValue, useDisclosure } from '@mantine/hooks';
import { IconDatabase, IconFolder, IconLock, IconPlus, IconSearch, IconStack2, IconWorld } from '@tabler/icons-react';
import { Link } from 'react-router';
import { useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ProjectOrderField, OrderDirection } from '@/gql/graphql';
import { EmptyState, ErrorState, PageHeader, TableSkeleton } from '@/components/Page';
import { Pager, usePager } from '@/components/Pager';
import { RelativeTime } from '@/components/Time';
import { Size } from '@/components/Size';
import { CreateProjectModal } from './CreateProject';
import { projectUrl } from '@/lib/routes';
import { formatBytes } from '@/lib/format';
import { ROLE_NAMES } from '@/lib/permissions';
import { useSession } from '@/lib/session';

const ProjectsDocument = graphql(`
  query Projects($first: Int, $after: Cursor, $last: Int, $before: Cursor, $where: ProjectWhereInput, $orderBy: ProjectOrder) {
    projects(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {
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
          name
          public
          description
          repositoryCount
          usedBytes
          quotaBytes
          createdAt
          viewerRole
        }
      }
    }
    systemInfo {
      projectCount
      repositoryCount
      artifactCount
      storedBytes
    }
  }
`);

const SORTS: Record<string, { field: ProjectOrderField; direction: OrderDirection; label: string }> = {
  name: { field: 'NAME', direction: 'ASC', label: 'Name (A–Z)' },
  newest: { field: 'CREATED_AT', direction: 'DESC', label: 'Newest first' },
  updated: { field: 'UPDATED_AT', direction: 'DESC', label: 'Recently updated' },
  largest: { field: 'USED_BYTES', direction: 'DESC', label: 'Largest first' },
};

function Stat({ label, value, icon, color }: { label: string; value: string; icon: React.ReactNode; color: string }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Group justify="space-between" wrap="nowrap">
        <div>
          <Text c="dimmed" fz="xs" tt="uppercase" fw={700}>
            {label}
          </Text>
          <Text fw={700} fz={22}>
            {value}
          </Text>
        </div>
        <ThemeIcon color={color} variant="light" size={40} radius="md">
          {icon}
        </ThemeIcon>
      </Group>
    </Paper>
  );
}

/** ProjectsPage lists the projects the viewer may see, with search, filter, sort and pages. */
export function ProjectsPage() {
  const { viewer } = useSession();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 250);
  const [visibility, setVisibility] = useState('all');
  const [sort, setSort] = useState('name');
  const [createOpen, create] = useDisclosure(false);
  const pager = usePager(20);
  const { reset } = pager;
  useEffect(() => reset(), [debounced, visibility, sort, reset]);

  const where = useMemo(
    () => ({
      ...(debounced ? { nameContainsFold: debounced } : {}),
      ...(visibility === 'all' ? {} : { public: visibility === 'public' }),
    }),
    [debounced, visibility],
  );
  const [{ data, fetching, error }, refetch] = useQuery({
    query: ProjectsDocument,
    variables: { ...pager.variables, where, orderBy: { field: SORTS[sort].field, direction: SORTS[sort].direction } },
  });
  const projects = data?.projects.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const info = data?.systemInfo;
  const filtered = Boolean(debounced) || visibility !== 'all';

  return (
    <>
      <PageHeader
        title="Projects"
        subtitle="Projects group repositories and decide who may pull and push them."
        actions={
          viewer && (
            <Button leftSection={<IconPlus size={16} />} onClick={create.open} data-testid="new-project">
              New project
            </Button>
          )
        }
      />
      <SimpleGrid cols={{ base: 2, md: 4 }} mb="lg">
        <Stat label="Projects" value={info ? info.projectCount.toLocaleString('en') : '–'} icon={<IconFolder size={22} />} color="blue" />
        <Stat label="Repositories" value={info ? info.repositoryCount.toLocaleString('en') : '–'} icon={<IconStack2 size={22} />} color="cyan" />
        <Stat label="Artifacts" value={info ? info.artifactCount.toLocaleString('en') : '–'} icon={<IconStack2 size={22} />} color="indigo" />
        {/* berth tells only system admins how much the blob store holds. */}
        <Stat label="Storage" value={info && viewer?.admin ? formatBytes(info.storedBytes) : '–'} icon={<IconDatabase size={22} />} color="teal" />
      </SimpleGrid>
      <Paper withBorder radius="md">
        <Group p="sm" gap="sm" justify="space-between">
          <Group gap="sm">
            <TextInput
              placeholder="Filter by name"
              leftSection={<IconSearch size={16} />}
              value={search}
              onChange={(e) => setSearch(e.currentTarget.value)}
              w={260}
              aria-label="Filter projects by name"
            />
            <SegmentedControl
              value={visibility}
              onChange={setVisibility}
              data={[
                { label: 'All', value: 'all' },
                { label: 'Public', value: 'public' },
                { label: 'Private', value: 'private' },
              ]}
              aria-label="Visibility"
            />
          </Group>
          <Select
            value={sort}
            onChange={(v) => v && setSort(v)}
            data={Object.entries(SORTS).map(([value, s]) => ({ value, label: s.label }))}
            w={200}
            allowDeselect={false}
            aria-label="Sort projects"
          />
        </Group>
        {error && !data ? (
          <Stack p="md">
            <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
          </Stack>
        ) : (
          <Table.ScrollContainer minWidth={720}>
            <Table verticalSpacing="sm" highlightOnHover>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Access</Table.Th>
                  <Table.Th>Your role</Table.Th>
                  <Table.Th ta="right">Repositories</Table.Th>
                  <Table.Th>Storage</Table.Th>
                  <Table.Th>Created</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {fetching && !data ? (
                  <TableSkeleton columns={6} />
                ) : (
                  projects.map((p) => (
                    <Table.Tr key={p.id}>
                      <Table.Td>
                        <Anchor component={Link} to={projectUrl(p.name)} fw={600}>
                          {p.name}
                        </Anchor>
                        {p.description && (
                          <Text fz="xs" c="dimmed" lineClamp={1} maw={360}>
                            {p.description}
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td>
                        {p.public ? (
                          <Badge variant="light" color="green" leftSection={<IconWorld size={12} />}>
                            Public
                          </Badge>
                        ) : (
                          <Badge variant="light" color="gray" leftSection={<IconLock size={12} />}>
                            Private
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Text fz="sm" c={p.viewerRole ? undefined : 'dimmed'}>
                          {p.viewerRole ? ROLE_NAMES[p.viewerRole] : '—'}
                        </Text>
                      </Table.Td>
                      <Table.Td ta="right">{p.repositoryCount}</Table.Td>
                      <Table.Td>
                        <Size bytes={p.usedBytes} fz="sm" />
                        <QuotaBar used={p.usedBytes} quota={p.quotaBytes} compact />
                      </Table.Td>
                      <Table.Td>
                        <RelativeTime value={p.createdAt} fz="sm" />
                      </Table.Td>
                    </Table.Tr>
                  ))
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        {data && projects.length === 0 && (
          <EmptyState
            title={filtered ? 'No project matches' : 'No projects yet'}
            action={
              !filtered &&
              viewer && (
                <Button leftSection={<IconPlus size={16} />} onClick={create.open} variant="light">
                  Create your first project
                </Button>
              )
            }
          >
            {filtered
              ? 'Try another name or filter.'
              : viewer
                ? 'A project holds repositories. Create one, then push images into it.'
                : 'No public project here yet. Sign in to see the projects you are a member of.'}
          </EmptyState>
        )}
        <Pager pager={pager} pageInfo={data?.projects.pageInfo} total={data?.projects.totalCount} shown={projects.length} noun="projects" />
        <div style={{ height: 8 }} />
      </Paper>
      <CreateProjectModal opened={createOpen} onClose={create.close} />
    </>
  );
}
