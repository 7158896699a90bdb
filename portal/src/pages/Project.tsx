import { useEffect, useMemo, useState } from 'react';
import {
  ActionIcon,
  Anchor,
  Badge,
  Box,
  Button,
  Group,
  NumberInput,
  Paper,
  Select,
  Skeleton,
  Stack,
  Switch,
  Table,
  Tabs,
  Text,
  TextInput,
  Textarea,
  ThemeIcon,
  Title,
  Tooltip,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconFolder, IconListDetails, IconLock, IconRobot, IconSearch, IconSettings, IconShieldHalf, IconShieldLock, IconStack2, IconTag, IconTrash, IconUsers, IconWebhook, IconWorld } from '@tabler/icons-react';
import { Link, useNavigate, useParams } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ProjectPageQuery, RepositoryOrderField, OrderDirection } from '@/gql/graphql';
import { EmptyState, ErrorState, NotFound, PageHeader, TableSkeleton } from '@/components/Page';
import { QuotaBar } from '@/components/QuotaBar';
import { Pager, usePager } from '@/components/Pager';
import { RelativeTime } from '@/components/Time';
import { Size } from '@/components/Size';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { LabelsManager } from '@/components/LabelsManager';
import { PushInstructions } from '@/components/PushInstructions';
import { can, ROLE_NAMES } from '@/lib/permissions';
import { projectUrl, repositoryUrl, type ProjectTab } from '@/lib/routes';
import { RobotsPanel } from '@/components/Robots';
import { AuditLogTable } from '@/components/AuditLogTable';
import { MembersTab } from './ProjectMembers';
import { ProjectSecurityTab } from './ProjectSecurity';
import { WebhooksPanel } from '@/components/Webhooks';
import { RetentionPanel } from '@/components/Retention';
import { ImmutabilityPanel } from '@/components/Immutability';
import { PullPoliciesPanel } from '@/components/PullPolicies';
import { ProjectScannerPanel } from '@/components/ProjectScanner';
import { useLiveContent } from '@/lib/live';
import { formatBytes, splitRepositoryName } from '@/lib/format';
import { loginUrl, useSession } from '@/lib/session';

export const ProjectPageDocument = graphql(`
  query ProjectPage($name: String!) {
    project(name: $name) {
      id
      name
      public
      scanOnPush
      description
      repositoryCount
      usedBytes
      quotaBytes
      createdAt
      viewerRole
      viewerPermissions
    }
  }
`);

const ProjectRepositoriesDocument = graphql(`
  query ProjectRepositories(
    $name: String!
    $first: Int
    $after: Cursor
    $last: Int
    $before: Cursor
    $where: RepositoryWhereInput
    $orderBy: RepositoryOrder
  ) {
    project(name: $name) {
      id
      repositories(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {
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
            pullCount
            pushedAt
            artifactCount
          }
        }
      }
    }
  }
`);

const UpdateProjectDocument = graphql(`
  mutation UpdateProject($name: String!, $input: UpdateProjectInput!) {
    updateProject(name: $name, input: $input) {
      id
      public
      scanOnPush
      description
      quotaBytes
    }
  }
`);

const DeleteProjectDocument = graphql(`
  mutation DeleteProject($name: String!, $force: Boolean) {
    deleteProject(name: $name, force: $force)
  }
`);

export const DeleteRepositoryDocument = graphql(`
  mutation DeleteRepository($name: String!) {
    deleteRepository(name: $name)
  }
`);

type Project = NonNullable<ProjectPageQuery['project']>;

const TAB_NAMES: Record<'repositories' | ProjectTab, string> = {
  repositories: 'Repositories',
  security: 'Security',
  members: 'Members',
  robots: 'Robot accounts',
  labels: 'Labels',
  logs: 'Logs',
  webhooks: 'Webhooks',
  policy: 'Policy',
  settings: 'Settings',
};

const REPO_SORTS: Record<string, { field: RepositoryOrderField; direction: OrderDirection; label: string }> = {
  pushed: { field: 'PUSHED_AT', direction: 'DESC', label: 'Recently pushed' },
  name: { field: 'NAME', direction: 'ASC', label: 'Name (A–Z)' },
  pulls: { field: 'PULL_COUNT', direction: 'DESC', label: 'Most pulled' },
};

function RepositoriesTab({ project }: { project: Project }) {
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search.trim(), 250);
  const [sort, setSort] = useState('pushed');
  const pager = usePager(20);
  const { reset } = pager;
  useEffect(() => reset(), [debounced, sort, reset]);
  const [deleting, setDeleting] = useState<{ name: string; artifacts: number } | null>(null);
  const [, deleteRepository] = useMutation(DeleteRepositoryDocument);
  const ctx = useMemo(() => ({ additionalTypenames: ['Repository', 'Artifact'] }), []);
  const [{ data, fetching, error }, refetch] = useQuery({
    query: ProjectRepositoriesDocument,
    variables: {
      name: project.name,
      ...pager.variables,
      where: debounced ? { nameContainsFold: debounced } : undefined,
      orderBy: { field: REPO_SORTS[sort].field, direction: REPO_SORTS[sort].direction },
    },
    context: ctx,
  });
  // A push, delete or tag change shows up as it happens (events subscription).
  useLiveContent(project.name, () => refetch({ requestPolicy: 'network-only' }));
  const conn = data?.project?.repositories;
  const repos = conn?.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const canDelete = can(project, 'repository:delete');

  if (data && conn?.totalCount === 0 && !debounced) {
    return (
      <Paper withBorder radius="md" p="lg">
        <EmptyState title="No repositories yet" icon={<IconStack2 size={26} />}>
          <Stack gap="md" mt="xs">
            <Text fz="sm">
              A repository appears when you push to it. {can(project, 'repository:push') ? 'Push your first image:' : 'You may pull from this project but not push to it.'}
            </Text>
            {can(project, 'repository:push') && <PushInstructions repository={`${project.name}/my-app`} />}
          </Stack>
        </EmptyState>
      </Paper>
    );
  }

  return (
    <Paper withBorder radius="md">
      <Group p="sm" justify="space-between">
        <TextInput
          placeholder="Filter repositories"
          leftSection={<IconSearch size={16} />}
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={280}
          aria-label="Filter repositories"
        />
        <Select value={sort} onChange={(v) => v && setSort(v)} data={Object.entries(REPO_SORTS).map(([value, s]) => ({ value, label: s.label }))} w={200} allowDeselect={false} aria-label="Sort repositories" />
      </Group>
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : (
        <Table.ScrollContainer minWidth={640}>
          <Table verticalSpacing="sm" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Repository</Table.Th>
                <Table.Th ta="right">Artifacts</Table.Th>
                <Table.Th ta="right">Pulls</Table.Th>
                <Table.Th>Last push</Table.Th>
                <Table.Th w={50} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fetching && !data ? (
                <TableSkeleton columns={5} />
              ) : (
                repos.map((r) => (
                  <Table.Tr key={r.id}>
                    <Table.Td>
                      <Group gap="xs" wrap="nowrap">
                        <IconStack2 size={16} style={{ opacity: 0.6, flexShrink: 0 }} />
                        <Anchor component={Link} to={repositoryUrl(r.name)} fw={600}>
                          {splitRepositoryName(r.name).path}
                        </Anchor>
                      </Group>
                    </Table.Td>
                    <Table.Td ta="right">{r.artifactCount}</Table.Td>
                    <Table.Td ta="right">{r.pullCount.toLocaleString('en')}</Table.Td>
                    <Table.Td>
                      <RelativeTime value={r.pushedAt} fz="sm" />
                    </Table.Td>
                    <Table.Td>
                      {canDelete && (
                        <Tooltip label="Delete repository">
                          <ActionIcon variant="subtle" color="red" aria-label={`Delete repository ${r.name}`} onClick={() => setDeleting({ name: r.name, artifacts: r.artifactCount })}>
                            <IconTrash size={16} />
                          </ActionIcon>
                        </Tooltip>
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {data && repos.length === 0 && <EmptyState title="No repository matches">Try another name.</EmptyState>}
      <Pager pager={pager} pageInfo={conn?.pageInfo} total={conn?.totalCount} shown={repos.length} noun="repositories" />
      <div style={{ height: 8 }} />
      <ConfirmDialog
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title="Delete repository"
        confirmLabel="Delete repository"
        typeToConfirm={deleting?.name}
        onConfirm={async () => {
          if (!deleting) return false;
          const r = await deleteRepository({ name: deleting.name }, ctx);
          if (!r.error) notifications.show({ color: 'teal', message: `Repository ${deleting.name} deleted.` });
          return !r.error;
        }}
      >
        <Text fz="sm">
          This deletes the repository <b>{deleting?.name}</b> with its {deleting?.artifacts} artifact{deleting?.artifacts === 1 ? '' : 's'} and all their tags. Anyone pulling them will
          fail. This cannot be undone.
        </Text>
      </ConfirmDialog>
    </Paper>
  );
}

function SettingsTab({ project }: { project: Project }) {
  const { viewer } = useSession();
  const navigate = useNavigate();
  const [description, setDescription] = useState(project.description);
  const [isPublic, setPublic] = useState(project.public);
  const [scanOnPush, setScanOnPush] = useState(project.scanOnPush);
  const [quotaGiB, setQuota] = useState<number | string>(project.quotaBytes > 0 ? +(project.quotaBytes / 1024 ** 3).toFixed(2) : '');
  const [deleting, setDeleting] = useState(false);
  const [{ fetching }, update] = useMutation(UpdateProjectDocument);
  const [, remove] = useMutation(DeleteProjectDocument);
  const canUpdate = can(project, 'project:update');
  const quotaBytes = typeof quotaGiB === 'number' && quotaGiB > 0 ? Math.round(quotaGiB * 1024 ** 3) : -1;
  const dirty = description !== project.description || isPublic !== project.public || scanOnPush !== project.scanOnPush || (viewer?.admin && quotaBytes !== (project.quotaBytes > 0 ? project.quotaBytes : -1));

  return (
    <Stack>
      <Paper withBorder radius="md" p="lg">
        <form
          onSubmit={async (e) => {
            e.preventDefault();
            const r = await update({ name: project.name, input: { description, public: isPublic, scanOnPush, ...(viewer?.admin ? { quotaBytes } : {}) } });
            if (!r.error) notifications.show({ color: 'teal', message: 'Project settings saved.' });
          }}
        >
          <Stack maw={560}>
            <Title order={4}>General</Title>
            <Textarea label="Description" autosize minRows={2} value={description} onChange={(e) => setDescription(e.currentTarget.value)} disabled={!canUpdate} />
            <Switch
              label="Public"
              description="Anyone, even without signing in, may browse and pull. Only members may push."
              checked={isPublic}
              onChange={(e) => setPublic(e.currentTarget.checked)}
              disabled={!canUpdate}
            />
            <Switch
              label="Scan images on push"
              description="Scan every image and image index pushed to the project for known vulnerabilities."
              checked={scanOnPush}
              onChange={(e) => setScanOnPush(e.currentTarget.checked)}
              disabled={!canUpdate}
            />
            <NumberInput
              label="Storage quota (GiB)"
              description={viewer?.admin ? `Now using ${formatBytes(project.usedBytes)}. Leave empty for no limit.` : 'Only system admins can change the quota.'}
              min={0}
              decimalScale={2}
              value={quotaGiB}
              onChange={setQuota}
              disabled={!viewer?.admin}
              placeholder="Unlimited"
              w={260}
            />
            {canUpdate && (
              <Group>
                <Button type="submit" loading={fetching} disabled={!dirty}>
                  Save changes
                </Button>
              </Group>
            )}
          </Stack>
        </form>
      </Paper>
      <ProjectScannerPanel project={project.name} canWrite={canUpdate} />
      {can(project, 'project:delete') && (
        <Paper withBorder radius="md" p="lg" style={{ borderColor: 'var(--mantine-color-red-outline)' }}>
          <Group justify="space-between" wrap="nowrap">
            <div>
              <Title order={4} c="red">
                Delete this project
              </Title>
              <Text fz="sm" c="dimmed">
                Deletes the project, its {project.repositoryCount} repositor{project.repositoryCount === 1 ? 'y' : 'ies'}, their artifacts and its labels.
              </Text>
            </div>
            <Button color="red" variant="light" leftSection={<IconTrash size={16} />} onClick={() => setDeleting(true)}>
              Delete project
            </Button>
          </Group>
        </Paper>
      )}
      <ConfirmDialog
        opened={deleting}
        onClose={() => setDeleting(false)}
        title={`Delete project ${project.name}`}
        confirmLabel="Delete project"
        typeToConfirm={project.name}
        onConfirm={async () => {
          const r = await remove({ name: project.name, force: project.repositoryCount > 0 }, { additionalTypenames: ['Project', 'Repository'] });
          if (r.error) return false;
          notifications.show({ color: 'teal', message: `Project ${project.name} deleted.` });
          navigate('/projects');
          return true;
        }}
      >
        <Text fz="sm">
          This deletes the project <b>{project.name}</b>
          {project.repositoryCount > 0 ? (
            <>
              {' '}
              and everything in it: <b>{project.repositoryCount}</b> repositor{project.repositoryCount === 1 ? 'y' : 'ies'} holding <b>{formatBytes(project.usedBytes)}</b> of
              artifacts, with all their tags and labels
            </>
          ) : null}
          . This cannot be undone.
        </Text>
      </ConfirmDialog>
    </Stack>
  );
}

/**
 * ProjectPage shows one project with tabs for its repositories, security
 * overview, members, robot accounts, labels, audit log and settings; a tab
 * the viewer may not use is not offered.
 */
export function ProjectPage({ tab }: { tab: 'repositories' | ProjectTab }) {
  const { project: name = '' } = useParams();
  const { viewer } = useSession();
  const navigate = useNavigate();
  const [{ data, fetching, error }, refetch] = useQuery({ query: ProjectPageDocument, variables: { name } });
  const project = data?.project;
  // The header's repository count and size follow pushes and deletes.
  useLiveContent(project ? name : '', () => refetch({ requestPolicy: 'network-only' }));

  if (fetching && !data) {
    return (
      <Stack>
        <Skeleton height={36} width={280} />
        <Skeleton height={18} width={420} />
        <Skeleton height={260} mt="md" />
      </Stack>
    );
  }
  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  if (!project) {
    return viewer ? (
      <NotFound what={`Project ${name}`} back={{ label: 'All projects', to: '/projects' }} />
    ) : (
      <NotFound what={`Project ${name}`} back={{ label: 'Sign in to see private projects', to: loginUrl(`/projects/${name}`) }} />
    );
  }

  const showSettings = can(project, 'project:update') || can(project, 'project:delete');
  const allowed: Record<'repositories' | ProjectTab, boolean> = {
    repositories: true,
    security: true,
    // The member list is for members from guest up; the API answers others with an empty list.
    members: can(project, 'member:read'),
    robots: can(project, 'robot:read'),
    labels: true,
    logs: can(project, 'log:read'),
    webhooks: can(project, 'webhook:read'),
    policy: can(project, 'policy:read'),
    settings: showSettings,
  };
  return (
    <>
      <PageHeader
        crumbs={[{ label: 'Projects', to: '/projects' }]}
        icon={
          <ThemeIcon size={44} radius="md" variant="light">
            <IconFolder size={26} />
          </ThemeIcon>
        }
        title={project.name}
        badges={
          <>
            {project.public ? (
              <Badge variant="light" color="green" leftSection={<IconWorld size={12} />}>
                Public
              </Badge>
            ) : (
              <Badge variant="light" color="gray" leftSection={<IconLock size={12} />}>
                Private
              </Badge>
            )}
            {project.viewerRole && <Badge variant="outline">{ROLE_NAMES[project.viewerRole]}</Badge>}
          </>
        }
        subtitle={
          <>
            {project.description ? `${project.description} · ` : ''}
            {project.repositoryCount} repositor{project.repositoryCount === 1 ? 'y' : 'ies'} · <Size bytes={project.usedBytes} fz="sm" />
 · created <RelativeTime value={project.createdAt} fz="sm" />
          </>
        }
      />
      {project.quotaBytes > 0 && (
        <Box mb="md">
          <QuotaBar used={project.usedBytes} quota={project.quotaBytes} />
        </Box>
      )}
      <Tabs value={tab} onChange={(v) => navigate(v === 'repositories' ? projectUrl(project.name) : projectUrl(project.name, v as ProjectTab))} mb="md" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="repositories" leftSection={<IconStack2 size={16} />}>
            Repositories
          </Tabs.Tab>
          <Tabs.Tab value="security" leftSection={<IconShieldHalf size={16} />}>
            Security
          </Tabs.Tab>
          {allowed.members && (
            <Tabs.Tab value="members" leftSection={<IconUsers size={16} />}>
              Members
            </Tabs.Tab>
          )}
          {allowed.robots && (
            <Tabs.Tab value="robots" leftSection={<IconRobot size={16} />}>
              Robot accounts
            </Tabs.Tab>
          )}
          <Tabs.Tab value="labels" leftSection={<IconTag size={16} />}>
            Labels
          </Tabs.Tab>
          {allowed.logs && (
            <Tabs.Tab value="logs" leftSection={<IconListDetails size={16} />}>
              Logs
            </Tabs.Tab>
          )}
          {allowed.webhooks && (
            <Tabs.Tab value="webhooks" leftSection={<IconWebhook size={16} />}>
              Webhooks
            </Tabs.Tab>
          )}
          {allowed.policy && (
            <Tabs.Tab value="policy" leftSection={<IconShieldLock size={16} />}>
              Policy
            </Tabs.Tab>
          )}
          {showSettings && (
            <Tabs.Tab value="settings" leftSection={<IconSettings size={16} />}>
              Settings
            </Tabs.Tab>
          )}
        </Tabs.List>
      </Tabs>
      {!allowed[tab] ? (
        <NotFound what={TAB_NAMES[tab]} back={{ label: 'Repositories', to: projectUrl(project.name) }} />
      ) : (
        <>
          {tab === 'repositories' && <RepositoriesTab project={project} />}
          {tab === 'security' && <ProjectSecurityTab project={project.name} />}
          {tab === 'members' && <MembersTab project={project} />}
          {tab === 'robots' && <RobotsPanel project={project.name} canWrite={can(project, 'robot:write')} />}
          {tab === 'labels' && <LabelsManager project={project.name} canWrite={can(project, 'label:write')} />}
          {tab === 'logs' && <AuditLogTable project={project.name} />}
          {tab === 'webhooks' && <WebhooksPanel project={project.name} canWrite={can(project, 'webhook:write')} />}
          {tab === 'policy' && (
            <Stack gap="lg">
              <RetentionPanel project={project.name} canWrite={can(project, 'policy:write')} />
              <ImmutabilityPanel project={project.name} canWrite={can(project, 'policy:write')} />
              <PullPoliciesPanel project={project.name} canWrite={can(project, 'policy:write', 'project:update')} />
            </Stack>
          )}
          {tab === 'settings' && <SettingsTab key={project.id} project={project} />}
        </>
      )}
    </>
  );
}
