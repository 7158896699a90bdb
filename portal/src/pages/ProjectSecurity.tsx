import { useState } from 'react';
import {
  ActionIcon,
  Anchor,
  Badge,
  Button,
  Grid,
  Group,
  MultiSelect,
  Paper,
  Skeleton,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { IconDownload, IconFilter, IconSearch, IconShieldCheck, IconShieldSearch } from '@tabler/icons-react';
import { Link } from 'react-router';
import { useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ArtifactVulnerabilityWhereInput, VulnerabilitySeverity } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from '@/components/Page';
import { FindingCells, FindingHeads, FixedVersion, OsvLink, SEVERITIES, SeverityBadge, SeverityCounts, VulnerabilityCell } from '@/components/Vulnerabilities';
import { artifactUrl } from '@/lib/routes';
import { shortDigest } from '@/lib/format';

export const ProjectSecuritySummaryDocument = graphql(`
  query ProjectSecuritySummary($project: String!) {
    securitySummary(project: $project) {
      severityCounts {
        critical
        high
        medium
        low
        unknown
      }
      totalCount
      fixableCount
      artifactCount
      scannedCount
      failedCount
      unscannedCount
      dangerousVulnerabilities(first: 5) {
        id
        aliases
        severity
        cvssScore
        artifactCount
        fixedVersion
      }
      dangerousArtifacts(first: 5) {
        artifact {
          id
          digest
          repository {
            id
            name
          }
          tags {
            id
            name
          }
        }
        severityCounts {
          critical
          high
          medium
          low
          unknown
        }
        fixableCount
      }
    }
  }
`);

export const ProjectVulnerabilitiesDocument = graphql(`
  query ProjectVulnerabilities($first: Int, $after: Cursor, $where: ArtifactVulnerabilityWhereInput) {
    vulnerabilities(first: $first, after: $after, where: $where) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        cursor
        node {
          vulnerability {
            id
            aliases
            package
            sourcePackage
            installedVersion
            fixedVersion
            severity
            cvssScore
            summary
          }
          artifact {
            id
            digest
            repository {
              id
              name
            }
            tags {
              id
              name
            }
          }
        }
      }
    }
  }
`);

const PAGE = 50;
const COLUMNS = 7;

/** The findings table's filter, as the visitor set it. */
export type SecurityFilter = { cve: string; package: string; severities: VulnerabilitySeverity[]; fixable: boolean };

export const NO_FILTER: SecurityFilter = { cve: '', package: '', severities: [], fixable: false };

/** vulnerabilityWhere is the filter of Query.vulnerabilities for one project. */
export function vulnerabilityWhere(project: string, f: SecurityFilter): ArtifactVulnerabilityWhereInput {
  const w: ArtifactVulnerabilityWhereInput = { project };
  if (f.cve.trim()) w.cve = f.cve.trim();
  if (f.package.trim()) w.package = f.package.trim();
  if (f.severities.length) w.severity = f.severities;
  if (f.fixable) w.fixable = true;
  return w;
}

/** csvUrl is the CSV export of the project's findings the filter selects. */
export function csvUrl(project: string, f: SecurityFilter): string {
  const q = new URLSearchParams();
  if (f.cve.trim()) q.set('cve', f.cve.trim());
  if (f.package.trim()) q.set('package', f.package.trim());
  if (f.severities.length) q.set('severity', f.severities.join(','));
  if (f.fixable) q.set('fixable', 'true');
  const s = q.toString();
  return `/api/projects/${encodeURIComponent(project)}/vulnerabilities.csv${s ? `?${s}` : ''}`;
}

type ArtifactRef = { digest: string; repository: { name: string }; tags?: { name: string }[] | null };

/** ArtifactCell names an artifact by repository and first tag (or digest), linking to its page. */
function ArtifactCell({ artifact }: { artifact: ArtifactRef }) {
  const tags = artifact.tags ?? [];
  const label = tags.length ? `${artifact.repository.name}:${tags[0].name}` : `${artifact.repository.name}@${shortDigest(artifact.digest)}`;
  return (
    <Stack gap={0} style={{ minWidth: 0 }}>
      <Anchor component={Link} to={artifactUrl(artifact.repository.name, artifact.digest)} fz="sm" fw={600} style={{ whiteSpace: 'nowrap' }} data-testid="security-artifact-link">
        {label}
      </Anchor>
      <Text fz="xs" c="dimmed" ff="monospace" style={{ whiteSpace: 'nowrap' }}>
        {shortDigest(artifact.digest)}
        {tags.length > 1 ? ` · +${tags.length - 1} tag${tags.length === 2 ? '' : 's'}` : ''}
      </Text>
    </Stack>
  );
}

function Stat({ label, value, color, testId }: { label: string; value: number; color?: string; testId: string }) {
  return (
    <div>
      <Text fz="xs" c="dimmed" tt="uppercase" fw={600} lts={0.3}>
        {label}
      </Text>
      <Text fz="xl" fw={700} c={value > 0 ? color : undefined} data-testid={testId}>
        {value.toLocaleString('en')}
      </Text>
    </div>
  );
}

type Counts = { critical: number; high: number; medium: number; low: number; unknown: number };

/** CompactCounts shows the non-zero severities of an artifact, worst first. */
function CompactCounts({ counts }: { counts: Counts }) {
  return (
    <Group gap={4} wrap="nowrap">
      {SEVERITIES.map((s) => {
        const n = counts[s.value.toLowerCase() as keyof Counts];
        return n > 0 ? (
          <Tooltip key={s.value} label={`${n} ${s.label.toLowerCase()}`} withArrow>
            <Badge color={s.color} radius="sm" variant={s.value === 'UNKNOWN' ? 'light' : 'filled'} style={{ flexShrink: 0 }}>
              {n} {s.label.slice(0, 1)}
            </Badge>
          </Tooltip>
        ) : null;
      })}
    </Group>
  );
}

/** FindingRows is one page of the project's findings. */
function FindingRows({ where, after, last, onMore }: { where: ArtifactVulnerabilityWhereInput; after: string | null; last: boolean; onMore: (cursor: string) => void }) {
  const [{ data, fetching, error }, refetch] = useQuery({
    query: ProjectVulnerabilitiesDocument,
    variables: { first: PAGE, after, where },
  });
  const conn = data?.vulnerabilities;
  if (fetching && !data) return <TableSkeleton columns={COLUMNS} rows={3} />;
  if (error && !data) {
    return (
      <Table.Tr>
        <Table.Td colSpan={COLUMNS}>
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Table.Td>
      </Table.Tr>
    );
  }
  const rows = conn?.edges ?? [];
  const filtered = Object.keys(where).length > 1;
  return (
    <>
      {after === null && rows.length === 0 && (
        <Table.Tr>
          <Table.Td colSpan={COLUMNS}>
            <EmptyState title={filtered ? 'No vulnerability matches' : 'No vulnerabilities found'} icon={filtered ? undefined : <IconShieldCheck size={26} />}>
              {filtered ? 'Try another vulnerability id, package or severity.' : 'The latest scans found none in the packages of this project’s images.'}
            </EmptyState>
          </Table.Td>
        </Table.Tr>
      )}
      {rows.map(({ cursor, node: { vulnerability: v, artifact } }) => (
        <Table.Tr key={cursor} data-testid="security-finding">
          <VulnerabilityCell finding={v} />
          <Table.Td>
            <ArtifactCell artifact={artifact} />
          </Table.Td>
          <FindingCells finding={v} packageNoWrap />
        </Table.Tr>
      ))}
      {last && conn?.pageInfo.hasNextPage && conn.pageInfo.endCursor && (
        <Table.Tr>
          <Table.Td colSpan={COLUMNS} ta="center">
            <Button variant="subtle" onClick={() => onMore(conn.pageInfo.endCursor!)} data-testid="security-more">
              Load more
            </Button>
          </Table.Td>
        </Table.Tr>
      )}
    </>
  );
}

/**
 * ProjectSecurityTab is a project's security overview: what the latest
 * vulnerability scans of its images and image indexes found, by severity,
 * its worst vulnerabilities and artifacts, every finding with filters and
 * "Load more", and the same findings as a CSV download.
 */
export function ProjectSecurityTab({ project }: { project: string }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ProjectSecuritySummaryDocument, variables: { project } });
  const [filter, setFilter] = useState<SecurityFilter>(NO_FILTER);
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const [cve] = useDebouncedValue(filter.cve, 300);
  const [pkg] = useDebouncedValue(filter.package, 300);
  const applied = { ...filter, cve, package: pkg };
  const where = vulnerabilityWhere(project, applied);

  const change = (f: Partial<SecurityFilter>) => {
    setFilter((old) => ({ ...old, ...f }));
    setPages([null]);
  };

  if (fetching && !data) {
    return (
      <Stack gap="md">
        <Skeleton height={150} />
        <Skeleton height={220} />
      </Stack>
    );
  }
  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  const sum = data?.securitySummary;
  if (!sum) return null;

  return (
    <Stack gap="md">
      <Paper withBorder radius="md" p="md" data-testid="security-summary">
        <Group justify="space-between" align="flex-start" mb="md" wrap="nowrap">
          <div>
            <Title order={5}>Vulnerabilities</Title>
            <Text fz="sm" c="dimmed">
              What the latest scans of the project’s images and image indexes found. The images an index lists count through their index.
            </Text>
          </div>
          <Tooltip label="The findings the filters below select, as a spreadsheet" withArrow>
            <Button component="a" href={csvUrl(project, applied)} download variant="default" leftSection={<IconDownload size={16} />} style={{ flexShrink: 0 }} data-testid="security-csv">
              Download CSV
            </Button>
          </Tooltip>
        </Group>
        {sum.artifactCount === 0 ? (
          <EmptyState title="Nothing to scan yet" icon={<IconShieldSearch size={26} />}>
            Push an image to the project; its scan shows up here.
          </EmptyState>
        ) : (
          <Stack gap="md">
            <SeverityCounts counts={sum.severityCounts} />
            <Group gap={40} style={{ rowGap: 'var(--mantine-spacing-sm)' }}>
              <Stat label="Findings" value={sum.totalCount} testId="security-total" />
              <Stat label="With a fix" value={sum.fixableCount} color="teal" testId="security-fixable" />
              <Stat label="Artifacts scanned" value={sum.scannedCount} testId="security-scanned" />
              <Stat label="Scans failed" value={sum.failedCount} color="red" testId="security-failed" />
              <Stat label="Not scanned" value={sum.unscannedCount} color="orange" testId="security-unscanned" />
            </Group>
          </Stack>
        )}
      </Paper>

      {sum.totalCount > 0 && (
        <Grid gap="md">
          <Grid.Col span={{ base: 12, lg: 7 }}>
            <Paper withBorder radius="md" h="100%">
              <Title order={5} p="md" pb="xs">
                Most dangerous vulnerabilities
              </Title>
              <Table.ScrollContainer minWidth={520}>
                <Table verticalSpacing="xs" data-testid="security-top-vulnerabilities">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Vulnerability</Table.Th>
                      <Table.Th miw={110}>Severity</Table.Th>
                      <Table.Th ta="right">Artifacts</Table.Th>
                      <Table.Th style={{ whiteSpace: 'nowrap' }}>Fixed in</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {sum.dangerousVulnerabilities.map((v) => (
                      <Table.Tr key={v.id} data-testid="security-top-vulnerability">
                        <Table.Td>
                          <Group gap={4} wrap="nowrap">
                            <OsvLink id={v.id} />
                            <Tooltip label="Show its findings" withArrow>
                              <ActionIcon variant="subtle" color="gray" size="sm" aria-label={`Show the findings of ${v.id}`} onClick={() => change({ cve: v.id, package: '', severities: [], fixable: false })}>
                                <IconFilter size={14} />
                              </ActionIcon>
                            </Tooltip>
                          </Group>
                          <Text fz="xs" c="dimmed">
                            {[...v.aliases.slice(0, 2), v.cvssScore != null ? `CVSS ${v.cvssScore.toFixed(1)}` : ''].filter(Boolean).join(' · ') || '\u00a0'}
                          </Text>
                        </Table.Td>
                        <Table.Td style={{ whiteSpace: 'nowrap' }}>
                          <SeverityBadge severity={v.severity} />
                        </Table.Td>
                        <Table.Td ta="right" fz="sm">
                          {v.artifactCount}
                        </Table.Td>
                        <Table.Td fz="sm" style={{ whiteSpace: 'nowrap' }}>
                          <FixedVersion version={v.fixedVersion} />
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            </Paper>
          </Grid.Col>
          <Grid.Col span={{ base: 12, lg: 5 }}>
            <Paper withBorder radius="md" h="100%">
              <Title order={5} p="md" pb="xs">
                Most vulnerable artifacts
              </Title>
              <Table.ScrollContainer minWidth={420}>
                <Table verticalSpacing="xs" data-testid="security-top-artifacts">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Artifact</Table.Th>
                      <Table.Th>Findings</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {sum.dangerousArtifacts.map((a) => (
                      <Table.Tr key={a.artifact.id} data-testid="security-top-artifact">
                        <Table.Td>
                          <ArtifactCell artifact={a.artifact} />
                        </Table.Td>
                        <Table.Td>
                          <CompactCounts counts={a.severityCounts} />
                          <Text fz="xs" c="dimmed" mt={2}>
                            {a.fixableCount} with a fix
                          </Text>
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            </Paper>
          </Grid.Col>
        </Grid>
      )}

      {sum.artifactCount > 0 && (
        <Paper withBorder radius="md">
          <Group p="md" pb="xs" justify="space-between">
            <Title order={5}>Findings</Title>
          </Group>
          <Group px="md" pb="sm" gap="md" align="flex-end">
            <TextInput
              placeholder="CVE or OSV id"
              aria-label="Vulnerability id"
              leftSection={<IconSearch size={16} />}
              value={filter.cve}
              onChange={(e) => change({ cve: e.currentTarget.value })}
              w={240}
              data-testid="security-filter-cve"
            />
            <TextInput
              placeholder="Package"
              aria-label="Package"
              value={filter.package}
              onChange={(e) => change({ package: e.currentTarget.value })}
              w={180}
              data-testid="security-filter-package"
            />
            <MultiSelect
              placeholder={filter.severities.length ? undefined : 'All severities'}
              aria-label="Severity"
              data={SEVERITIES.map((s) => ({ value: s.value, label: s.label }))}
              value={filter.severities}
              onChange={(v) => change({ severities: v as VulnerabilitySeverity[] })}
              clearable
              miw={200}
              maw={420}
              data-testid="security-filter-severity"
            />
            <Switch label="Fixable only" checked={filter.fixable} onChange={(e) => change({ fixable: e.currentTarget.checked })} mb={8} data-testid="security-filter-fixable" />
            {(filter.cve || filter.package || filter.severities.length > 0 || filter.fixable) && (
              <Button variant="subtle" size="compact-sm" mb={6} onClick={() => change(NO_FILTER)}>
                Clear filters
              </Button>
            )}
          </Group>
          <Table.ScrollContainer minWidth={1080}>
            <Table verticalSpacing="xs" data-testid="security-findings">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Vulnerability</Table.Th>
                  <Table.Th>Artifact</Table.Th>
                  <FindingHeads severityMinWidth={100} />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {pages.map((after, i) => (
                  <FindingRows key={`${JSON.stringify(where)}/${after ?? ''}`} where={where} after={after} last={i === pages.length - 1} onMore={(c) => setPages((p) => [...p, c])} />
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
    </Stack>
  );
}
