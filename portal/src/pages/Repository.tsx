import { useEffect, useMemo, useState } from 'react';
import { Anchor, Badge, Button, Group, Paper, Select, SimpleGrid, Skeleton, Stack, Table, Text, TextInput, ThemeIcon, Tooltip } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconLock, IconSearch, IconShieldHalf, IconStack2, IconTrash } from '@tabler/icons-react';
import { Link, useNavigate } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ArtifactType } from '@/gql/graphql';
import { EmptyState, ErrorState, NotFound, PageHeader, TableSkeleton } from '@/components/Page';
import { Pager, usePager } from '@/components/Pager';
import { RelativeTime } from '@/components/Time';
import { Size } from '@/components/Size';
import { ArtifactTypeIcon, artifactTypeLabel } from '@/components/ArtifactType';
import { LabelBadge } from '@/components/LabelBadge';
import { CopyCommand, CopyIcon } from '@/components/Copy';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { PushInstructions } from '@/components/PushInstructions';
import { ScanSummary, SeverityCounts } from '@/components/Vulnerabilities';
import { DeleteRepositoryDocument } from './Project';
import { can } from '@/lib/permissions';
import { artifactUrl, projectUrl } from '@/lib/routes';
import { shortDigest, splitRepositoryName } from '@/lib/format';
import { useSession } from '@/lib/session';
import { useLiveContent } from '@/lib/live';

const RepositoryPageDocument = graphql(`
  query RepositoryPage(
    $name: String!
    $first: Int
    $after: Cursor
    $last: Int
    $before: Cursor
    $where: ArtifactWhereInput
    $orderBy: ArtifactOrder
  ) {
    repository(name: $name) {
      id
      name
      description
      pullCount
      pushedAt
      createdAt
      project {
        id
        name
        public
        viewerPermissions
      }
      artifacts(first: $first, after: $after, last: $last, before: $before, where: $where, orderBy: $orderBy) {
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
            digest
            artifactType
            size
            pushedAt
            pulledAt
            tags {
              id
              name
              immutable
            }
            labels {
              id
              name
              color
              description
            }
            scan {
              status
              severityCounts {
                critical
                high
              }
            }
          }
        }
      }
    }
  }
`);

// The repository's security summary, read apart from the page of
// artifacts: one aggregate query, not repeated when the filter or the page
// changes.
const RepositorySecuritySummaryDocument = graphql(`
  query RepositorySecuritySummary($name: String!) {
    repository(name: $name) {
      id
      securitySummary {
        severityCounts {
          critical
          high
          medium
          low
          unknown
        }
        artifactCount
        scannedCount
      }
    }
  }
`);

const TYPES: ArtifactType[] = ['IMAGE', 'IMAGE_INDEX', 'CHART', 'SIGNATURE', 'SBOM', 'ATTESTATION', 'OTHER'];

function Fact({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Text fz="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text fz="sm" fw={500} component="div">
        {children}
      </Text>
    </div>
  );
}

/** TagBadge is a tag's name, with a lock when an immutability rule protects it. */
export function TagBadge({ tag }: { tag: { name: string; immutable: boolean } }) {
  const badge = (
    <Badge
      variant="light"
      radius="sm"
      style={{ textTransform: 'none' }}
      leftSection={tag.immutable ? <IconLock size={12} aria-label="immutable" data-testid="tag-immutable" /> : undefined}
      data-testid="tag-badge"
    >
      {tag.name}
    </Badge>
  );
  if (!tag.immutable) return badge;
  return (
    <Tooltip label="immutable" withArrow openDelay={200}>
      {badge}
    </Tooltip>
  );
}

/**
 * RepositorySecurity is what the latest scans found in a repository's
 * images and indexes: its findings by severity, how many of them are
 * scanned, and a link to the project's Security tab. Nothing while it
 * loads, when it cannot be read, or when the repository has no image.
 */
function RepositorySecurity({ summary, project }: { summary?: { severityCounts: { critical: number; high: number; medium: number; low: number; unknown: number }; artifactCount: number; scannedCount: number } | null; project: string }) {
  if (!summary || summary.artifactCount === 0) return null;
  return (
    <Group mt="md" gap="md" justify="space-between" data-testid="repository-security">
      <Group gap="md">
        <SeverityCounts counts={summary.severityCounts} />
        <Text fz="sm" c="dimmed" data-testid="repository-scanned">
          {summary.scannedCount.toLocaleString('en')} of {summary.artifactCount.toLocaleString('en')} artifact{summary.artifactCount === 1 ? '' : 's'} scanned
        </Text>
      </Group>
      <Anchor component={Link} to={projectUrl(project, 'security')} fz="sm" data-testid="repository-security-link">
        <Group gap={4} wrap="nowrap">
          <IconShieldHalf size={16} />
          Project security overview
        </Group>
      </Anchor>
    </Group>
  );
}

/** RepositoryPage lists a repository's artifacts with tags, labels, vulnerability summary, type, size and times. */
export function RepositoryPage({ name }: { name: string }) {
  const { registryHost } = useSession();
  const navigate = useNavigate();
  const [tagFilter, setTagFilter] = useState('');
  const [debounced] = useDebouncedValue(tagFilter.trim(), 250);
  const [type, setType] = useState<string | null>(null);
  const pager = usePager(25);
  const { reset } = pager;
  useEffect(() => reset(), [debounced, type, reset]);
  const [deleting, setDeleting] = useState(false);
  const [, deleteRepository] = useMutation(DeleteRepositoryDocument);
  const ctx = useMemo(() => ({ additionalTypenames: ['Artifact', 'Tag'] }), []);

  const where = useMemo(() => {
    const w: Record<string, unknown> = {};
    if (debounced) {
      const hex = debounced.replace(/^sha256:/, '');
      if (/^[0-9a-f]{6,64}$/.test(hex) && /\d/.test(hex)) w.or = [{ digestContains: hex }, { hasTagsWith: [{ nameContainsFold: debounced }] }];
      else w.hasTagsWith = [{ nameContainsFold: debounced }];
    }
    if (type) w.artifactType = type;
    return Object.keys(w).length ? w : undefined;
  }, [debounced, type]);

  const [{ data, fetching, error }, refetch] = useQuery({
    query: RepositoryPageDocument,
    variables: { name, ...pager.variables, where, orderBy: { field: 'PUSHED_AT', direction: 'DESC' } },
    context: ctx,
  });
  const [security, refetchSecurity] = useQuery({ query: RepositorySecuritySummaryDocument, variables: { name }, context: ctx });
  const repo = data?.repository;
  const { project: projectName, path } = splitRepositoryName(name);
  // A push to this repository (or a tag moved or deleted) shows up as it
  // happens: berth's events subscription, then the list and the summary
  // are read again.
  useLiveContent(
    projectName,
    () => {
      refetch({ requestPolicy: 'network-only' });
      refetchSecurity({ requestPolicy: 'network-only' });
    },
    name,
  );

  if (fetching && !data) {
    return (
      <Stack>
        <Skeleton height={36} width={320} />
        <Skeleton height={80} mt="md" />
        <Skeleton height={260} />
      </Stack>
    );
  }
  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  if (!repo) return <NotFound what={`Repository ${name}`} back={{ label: `Project ${projectName}`, to: projectUrl(projectName) }} />;

  const artifacts = repo.artifacts.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const filtered = Boolean(where);
  const empty = repo.artifacts.totalCount === 0 && !filtered;

  return (
    <>
      <PageHeader
        crumbs={[
          { label: 'Projects', to: '/projects' },
          { label: projectName, to: projectUrl(projectName) },
        ]}
        icon={
          <ThemeIcon size={44} radius="md" variant="light" color="cyan">
            <IconStack2 size={26} />
          </ThemeIcon>
        }
        title={path}
        subtitle={repo.description || `${registryHost}/${repo.name}`}
        actions={
          can(repo.project, 'repository:delete') && (
            <Button color="red" variant="light" leftSection={<IconTrash size={16} />} onClick={() => setDeleting(true)}>
              Delete repository
            </Button>
          )
        }
      />
      <Paper withBorder radius="md" p="md" mb="lg">
        <SimpleGrid cols={{ base: 2, md: 4 }}>
          <Fact label="Artifacts">{repo.artifacts.totalCount.toLocaleString('en')}</Fact>
          <Fact label="Pulls">{repo.pullCount.toLocaleString('en')}</Fact>
          <Fact label="Last push">
            <RelativeTime value={repo.pushedAt} />
          </Fact>
          <Fact label="Created">
            <RelativeTime value={repo.createdAt} />
          </Fact>
        </SimpleGrid>
        <Group mt="md" gap="xs" wrap="nowrap">
          <Text fz="sm" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
            Pull:
          </Text>
          <div style={{ flex: 1, minWidth: 0 }}>
            <CopyCommand value={`docker pull ${registryHost}/${repo.name}:<tag>`} />
          </div>
        </Group>
        <RepositorySecurity summary={security.data?.repository?.securitySummary} project={projectName} />
      </Paper>

      {empty ? (
        <Paper withBorder radius="md" p="lg">
          <EmptyState title="This repository is empty" icon={<IconStack2 size={26} />}>
            <Stack gap="md" mt="xs">
              <Text fz="sm">Push an image or artifact to {repo.name}:</Text>
              <PushInstructions repository={repo.name} />
            </Stack>
          </EmptyState>
        </Paper>
      ) : (
        <Paper withBorder radius="md">
          <Group p="sm" justify="space-between">
            <TextInput
              placeholder="Filter by tag or digest"
              leftSection={<IconSearch size={16} />}
              value={tagFilter}
              onChange={(e) => setTagFilter(e.currentTarget.value)}
              w={280}
              aria-label="Filter artifacts by tag or digest"
            />
            <Select
              placeholder="All types"
              value={type}
              onChange={setType}
              clearable
              data={TYPES.map((t) => ({ value: t, label: artifactTypeLabel(t) }))}
              w={220}
              aria-label="Artifact type"
            />
          </Group>
          <Table.ScrollContainer minWidth={980}>
            <Table verticalSpacing="sm" highlightOnHover data-testid="artifacts-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w={44} />
                  <Table.Th>Artifact</Table.Th>
                  <Table.Th>Tags</Table.Th>
                  <Table.Th>Labels</Table.Th>
                  <Table.Th>Vulnerabilities</Table.Th>
                  <Table.Th ta="right">Size</Table.Th>
                  <Table.Th>Pushed</Table.Th>
                  <Table.Th>Last pulled</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {fetching && !data ? (
                  <TableSkeleton columns={8} />
                ) : (
                  artifacts.map((a) => (
                    <Table.Tr key={a.id} style={{ cursor: 'pointer' }} onClick={(e) => !(e.target as HTMLElement).closest('a,button') && navigate(artifactUrl(repo.name, a.digest))}>
                      <Table.Td>
                        <ArtifactTypeIcon type={a.artifactType} />
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4} wrap="nowrap">
                          <Anchor component={Link} to={artifactUrl(repo.name, a.digest)} ff="monospace" fz="sm" fw={600}>
                            {shortDigest(a.digest)}
                          </Anchor>
                          <CopyIcon value={a.digest} label="Copy digest" size="sm" />
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          {(a.tags ?? []).slice(0, 4).map((t) => (
                            <TagBadge key={t.id} tag={t} />
                          ))}
                          {(a.tags?.length ?? 0) > 4 && (
                            <Tooltip label={(a.tags ?? []).slice(4).map((t) => t.name).join(', ')}>
                              <Badge variant="default" radius="sm">
                                +{(a.tags?.length ?? 0) - 4}
                              </Badge>
                            </Tooltip>
                          )}
                          {(a.tags?.length ?? 0) === 0 && (
                            <Text fz="sm" c="dimmed">
                              untagged
                            </Text>
                          )}
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        <Group gap={4}>
                          {(a.labels ?? []).map((l) => (
                            <LabelBadge key={l.id} label={l} />
                          ))}
                        </Group>
                      </Table.Td>
                      <Table.Td>
                        {a.artifactType === 'IMAGE' || a.artifactType === 'IMAGE_INDEX' ? <ScanSummary scan={a.scan} /> : null}
                      </Table.Td>
                      <Table.Td ta="right">
                        <Size bytes={a.size} fz="sm" />
                      </Table.Td>
                      <Table.Td>
                        <RelativeTime value={a.pushedAt} fz="sm" />
                      </Table.Td>
                      <Table.Td>
                        <RelativeTime value={a.pulledAt} fz="sm" />
                      </Table.Td>
                    </Table.Tr>
                  ))
                )}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
          {artifacts.length === 0 && <EmptyState title="No artifact matches">Try another tag, digest or type.</EmptyState>}
          <Pager pager={pager} pageInfo={repo.artifacts.pageInfo} total={repo.artifacts.totalCount} shown={artifacts.length} noun="artifacts" />
          <div style={{ height: 8 }} />
        </Paper>
      )}
      <ConfirmDialog
        opened={deleting}
        onClose={() => setDeleting(false)}
        title="Delete repository"
        confirmLabel="Delete repository"
        typeToConfirm={repo.name}
        onConfirm={async () => {
          const r = await deleteRepository({ name: repo.name }, { additionalTypenames: ['Repository', 'Project'] });
          if (r.error) return false;
          notifications.show({ color: 'teal', message: `Repository ${repo.name} deleted.` });
          navigate(projectUrl(projectName));
          return true;
        }}
      >
        <Text fz="sm">
          This deletes <b>{repo.name}</b> with its {repo.artifacts.totalCount} artifact{repo.artifacts.totalCount === 1 ? '' : 's'} and all their tags. This cannot be undone.
        </Text>
      </ConfirmDialog>
    </>
  );
}
