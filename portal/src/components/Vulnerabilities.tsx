import { useEffect, useState } from 'react';
import { Alert, Anchor, Badge, Button, Group, Loader, Paper, Select, Skeleton, Stack, Switch, Table, Text, Tooltip } from '@mantine/core';
import { IconAlertTriangle, IconFileText, IconShieldCheck, IconShieldSearch } from '@tabler/icons-react';
import { Link } from 'react-router';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { ScanStatus, VulnerabilitySeverity, VulnerabilityWhereInput } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from '@/components/Page';
import { RelativeTime } from '@/components/Time';
import { CopyCommand, CopyIcon } from '@/components/Copy';
import { Size } from '@/components/Size';
import { shortDigest } from '@/lib/format';
import { artifactUrl } from '@/lib/routes';
import { useSession } from '@/lib/session';

const ArtifactScanDocument = graphql(`
  query ArtifactScan($repository: String!, $reference: String!) {
    artifact(repository: $repository, reference: $reference) {
      id
      scan {
        status
        error
        requestedAt
        finishedAt
        os
        scanner
        packageCount
        fixableCount
        severityCounts {
          critical
          high
          medium
          low
          unknown
        }
        sbom {
          id
          digest
          size
        }
      }
    }
  }
`);

const ArtifactVulnerabilitiesDocument = graphql(`
  query ArtifactVulnerabilities($repository: String!, $reference: String!, $first: Int, $after: Cursor, $where: VulnerabilityWhereInput) {
    artifact(repository: $repository, reference: $reference) {
      id
      scan {
        vulnerabilities(first: $first, after: $after, where: $where) {
          totalCount
          pageInfo {
            hasNextPage
            endCursor
          }
          edges {
            node {
              id
              aliases
              package
              sourcePackage
              installedVersion
              fixedVersion
              severity
              cvssScore
              summary
              layerDigest
            }
          }
        }
      }
    }
  }
`);

const ScanArtifactDocument = graphql(`
  mutation ScanArtifact($repository: String!, $reference: String!) {
    scanArtifact(repository: $repository, reference: $reference) {
      status
    }
  }
`);

/** How often a pending or running scan is read again. */
export const SCAN_POLL_MS = 2000;
const PAGE = 50;
const COLUMNS = 8;

/** The severities worst first, with their names and colors. */
export const SEVERITIES: { value: VulnerabilitySeverity; label: string; color: string }[] = [
  { value: 'CRITICAL', label: 'Critical', color: 'red' },
  { value: 'HIGH', label: 'High', color: 'orange' },
  { value: 'MEDIUM', label: 'Medium', color: 'yellow' },
  { value: 'LOW', label: 'Low', color: 'blue' },
  { value: 'UNKNOWN', label: 'Unknown', color: 'gray' },
];
const SEVERITY = Object.fromEntries(SEVERITIES.map((s) => [s.value, s])) as Record<VulnerabilitySeverity, (typeof SEVERITIES)[number]>;

/** SeverityBadge is one severity in its color. */
export function SeverityBadge({ severity }: { severity: VulnerabilitySeverity }) {
  const s = SEVERITY[severity];
  return (
    <Badge color={s.color} variant="light" radius="sm" style={{ flexShrink: 0, overflow: 'visible' }}>
      {s.label}
    </Badge>
  );
}

/** OsvLink is a vulnerability id linked to its page on osv.dev. */
export function OsvLink({ id }: { id: string }) {
  return (
    <Anchor href={`https://osv.dev/vulnerability/${encodeURIComponent(id)}`} target="_blank" rel="noreferrer" fz="sm" fw={600} style={{ whiteSpace: 'nowrap' }}>
      {id}
    </Anchor>
  );
}

/** FixedVersion is the version that fixes a finding, or a dimmed "no fix". */
export function FixedVersion({ version }: { version?: string | null }) {
  return (
    version ?? (
      <Text span fz="sm" c="dimmed">
        no fix
      </Text>
    )
  );
}

/** Dash stands in a cell for a value a finding does not have. */
function Dash() {
  return (
    <Text span c="dimmed" fz="sm">
      —
    </Text>
  );
}

/** A vulnerability found in a package, as the findings tables show it. */
type Finding = {
  id: string;
  aliases: string[];
  package: string;
  sourcePackage?: string | null;
  installedVersion: string;
  fixedVersion?: string | null;
  severity: VulnerabilitySeverity;
  cvssScore?: number | null;
};

/** VulnerabilityCell is a finding's first cell: its id, linked to osv.dev, over its aliases. */
export function VulnerabilityCell({ finding: v }: { finding: Pick<Finding, 'id' | 'aliases'> }) {
  return (
    <Table.Td>
      <OsvLink id={v.id} />
      {v.aliases.length > 0 && (
        <Text fz="xs" c="dimmed">
          {v.aliases.join(', ')}
        </Text>
      )}
    </Table.Td>
  );
}

/** FindingHeads are the column heads over FindingCells. */
export function FindingHeads({ severityMinWidth }: { severityMinWidth: number }) {
  return (
    <>
      <Table.Th>Package</Table.Th>
      <Table.Th>Installed</Table.Th>
      <Table.Th style={{ whiteSpace: 'nowrap' }}>Fixed in</Table.Th>
      <Table.Th miw={severityMinWidth}>Severity</Table.Th>
      <Table.Th ta="right">
        <Tooltip label="CVSS base score" withArrow>
          <span>CVSS</span>
        </Tooltip>
      </Table.Th>
    </>
  );
}

/**
 * FindingCells are the cells an artifact's findings and a project's findings
 * share: the package (with the source package it was built from), the
 * installed version, the fixed version, the severity and the CVSS score.
 * packageNoWrap keeps the package name on one line.
 */
export function FindingCells({ finding: v, packageNoWrap = false }: { finding: Finding; packageNoWrap?: boolean }) {
  return (
    <>
      <Table.Td>
        <Text fz="sm" ff="monospace" style={packageNoWrap ? { whiteSpace: 'nowrap' } : undefined}>
          {v.package}
        </Text>
        {v.sourcePackage && (
          <Text fz="xs" c="dimmed">
            source {v.sourcePackage}
          </Text>
        )}
      </Table.Td>
      <Table.Td fz="sm" ff="monospace" style={{ whiteSpace: 'nowrap' }}>
        {v.installedVersion}
      </Table.Td>
      <Table.Td fz="sm" ff={v.fixedVersion ? 'monospace' : undefined} style={{ whiteSpace: 'nowrap' }}>
        <FixedVersion version={v.fixedVersion} />
      </Table.Td>
      <Table.Td>
        <SeverityBadge severity={v.severity} />
      </Table.Td>
      <Table.Td ta="right" fz="sm">
        {v.cvssScore != null ? v.cvssScore.toFixed(1) : <Dash />}
      </Table.Td>
    </>
  );
}

type Counts = { critical: number; high: number; medium: number; low: number; unknown: number };

/** SeverityCounts shows a scan's findings per severity as colored badges, the empty ones dimmed. */
export function SeverityCounts({ counts }: { counts: Counts }) {
  return (
    <Group gap={6} data-testid="severity-counts">
      {SEVERITIES.map((s) => {
        const n = counts[s.value.toLowerCase() as keyof Counts];
        return (
          <Badge key={s.value} color={n > 0 ? s.color : 'gray'} variant={n > 0 ? 'filled' : 'light'} radius="sm" size="lg" data-testid={`severity-${s.value.toLowerCase()}`}>
            {n} {s.label}
          </Badge>
        );
      })}
    </Group>
  );
}

/**
 * ScanSummary is the short form for a list of artifacts: critical and
 * high findings, or where the scan is.
 */
export function ScanSummary({ scan }: { scan?: { status: ScanStatus; severityCounts: { critical: number; high: number } } | null }) {
  if (!scan) {
    return (
      <Text fz="sm" c="dimmed">
        not scanned
      </Text>
    );
  }
  if (scan.status === 'PENDING' || scan.status === 'RUNNING') {
    return (
      <Group gap={6} wrap="nowrap">
        <Loader size={12} />
        <Text fz="sm" c="dimmed">
          scanning
        </Text>
      </Group>
    );
  }
  if (scan.status === 'ERROR') {
    return (
      <Badge color="red" variant="outline" radius="sm">
        scan failed
      </Badge>
    );
  }
  const { critical, high } = scan.severityCounts;
  if (critical === 0 && high === 0) {
    return (
      <Text fz="sm" c="teal" data-testid="scan-summary">
        no critical or high
      </Text>
    );
  }
  return (
    <Group gap={4} wrap="nowrap" data-testid="scan-summary">
      {critical > 0 && (
        <Badge color="red" radius="sm">
          {critical} critical
        </Badge>
      )}
      {high > 0 && (
        <Badge color="orange" radius="sm">
          {high} high
        </Badge>
      )}
    </Group>
  );
}

/**
 * SBOM is the SPDX document a scan attached to the image as a referrer,
 * linked to its artifact page. The portal signs in with a session cookie
 * that /v2/ does not accept, so it offers the oras command to download it.
 */
function SBOM({ repository, sbom }: { repository: string; sbom: { digest: string; size: number } }) {
  const { registryHost } = useSession();
  return (
    <Paper withBorder radius="md" p="sm" data-testid="sbom">
      <Group gap="xs" mb={6} wrap="nowrap">
        <IconFileText size={18} style={{ opacity: 0.7, flexShrink: 0 }} />
        <Text fz="sm" fw={600}>
          SBOM (SPDX 2.3)
        </Text>
        <Anchor component={Link} to={artifactUrl(repository, sbom.digest)} ff="monospace" fz="sm" data-testid="sbom-link">
          {shortDigest(sbom.digest)}
        </Anchor>
        <Size bytes={sbom.size} fz="sm" c="dimmed" />
      </Group>
      <CopyCommand value={`oras pull ${registryHost}/${repository}@${sbom.digest}`} label="Copy oras pull command" testId="sbom-pull" />
    </Paper>
  );
}

type Filter = { severity: VulnerabilitySeverity | null; fixable: boolean };

function whereOf(f: Filter): VulnerabilityWhereInput | undefined {
  const w: VulnerabilityWhereInput = {};
  if (f.severity) w.severity = [f.severity];
  if (f.fixable) w.fixable = true;
  return Object.keys(w).length ? w : undefined;
}

/** VulnerabilityRows is one page of a scan's findings. */
function VulnerabilityRows({
  repository,
  reference,
  after,
  where,
  last,
  onMore,
}: {
  repository: string;
  reference: string;
  after: string | null;
  where: VulnerabilityWhereInput | undefined;
  last: boolean;
  onMore: (cursor: string) => void;
}) {
  const [{ data, fetching, error }, refetch] = useQuery({
    query: ArtifactVulnerabilitiesDocument,
    variables: { repository, reference, first: PAGE, after, where },
    requestPolicy: 'cache-and-network',
  });
  const conn = data?.artifact?.scan?.vulnerabilities;
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
  const rows = conn?.edges.map((e) => e.node) ?? [];
  return (
    <>
      {after === null && rows.length === 0 && (
        <Table.Tr>
          <Table.Td colSpan={COLUMNS}>
            <EmptyState title={where ? 'No vulnerability matches' : 'No vulnerabilities found'} icon={where ? undefined : <IconShieldCheck size={26} />}>
              {where ? 'Try another severity, or show findings without a fix too.' : 'The vulnerability database knows of none in the packages of this image.'}
            </EmptyState>
          </Table.Td>
        </Table.Tr>
      )}
      {rows.map((v, i) => (
        <Table.Tr key={`${v.id}/${v.package}/${v.installedVersion}/${i}`} data-testid="vulnerability-row">
          <VulnerabilityCell finding={v} />
          <FindingCells finding={v} />
          <Table.Td>
            <Text fz="sm" lineClamp={2} title={v.summary}>
              {v.summary || '—'}
            </Text>
          </Table.Td>
          <Table.Td>
            {v.layerDigest ? (
              <Group gap={2} wrap="nowrap">
                <Text ff="monospace" fz="xs">
                  {shortDigest(v.layerDigest)}
                </Text>
                <CopyIcon value={v.layerDigest} label="Copy layer digest" size="sm" />
              </Group>
            ) : (
              <Dash />
            )}
          </Table.Td>
        </Table.Tr>
      ))}
      {last && conn?.pageInfo.hasNextPage && conn.pageInfo.endCursor && (
        <Table.Tr>
          <Table.Td colSpan={COLUMNS} ta="center">
            <Button variant="subtle" onClick={() => onMore(conn.pageInfo.endCursor!)} data-testid="vulnerabilities-more">
              Load more
            </Button>
          </Table.Td>
        </Table.Tr>
      )}
    </>
  );
}

/**
 * VulnerabilitiesPanel shows an artifact's latest vulnerability scan: where
 * it is, its findings by severity and a filterable list of them, with a
 * "Scan now" button for those who may scan. It reads the scan again every
 * two seconds while the scan is pending or running.
 */
export function VulnerabilitiesPanel({ repository, digest, canScan }: { repository: string; digest: string; canScan: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: ArtifactScanDocument, variables: { repository, reference: digest } });
  const [{ fetching: requesting }, scanArtifact] = useMutation(ScanArtifactDocument);
  const [filter, setFilter] = useState<Filter>({ severity: null, fixable: false });
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const scan = data?.artifact?.scan;
  const active = scan?.status === 'PENDING' || scan?.status === 'RUNNING';
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => refetch({ requestPolicy: 'network-only' }), SCAN_POLL_MS);
    return () => clearInterval(id);
  }, [active, refetch]);

  if (fetching && !data) {
    return (
      <Stack gap="xs">
        <Skeleton height={20} width={360} />
        <Skeleton height={28} width={480} />
      </Stack>
    );
  }
  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;

  const where = whereOf(filter);
  const changeFilter = (f: Filter) => {
    setFilter(f);
    setPages([null]);
  };
  const scanNow = async () => {
    const r = await scanArtifact({ repository, reference: digest });
    if (!r.error) refetch({ requestPolicy: 'network-only' });
  };

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-start" wrap="nowrap">
        <Stack gap={6} data-testid="scan-status">
          {!scan && (
            <Group gap="xs">
              <IconShieldSearch size={18} style={{ opacity: 0.6 }} />
              <Text fz="sm">
                Never scanned.{' '}
                <Text span c="dimmed" inherit>
                  {canScan ? 'Scan it to list the known vulnerabilities of its packages.' : 'Developers of the project can scan it.'}
                </Text>
              </Text>
            </Group>
          )}
          {active && (
            <Group gap="xs">
              <Loader size={14} />
              <Text fz="sm">{scan.status === 'PENDING' ? 'Waiting for a scanner…' : 'Scanning…'}</Text>
              <Text fz="sm" c="dimmed">
                requested <RelativeTime value={scan.requestedAt} fz="sm" />
              </Text>
            </Group>
          )}
          {scan?.status === 'ERROR' && (
            <Alert color="red" variant="light" icon={<IconAlertTriangle size={18} />} title="The scan failed" p="sm" data-testid="scan-error">
              <Text fz="sm" style={{ wordBreak: 'break-word' }}>
                {scan.error || 'No reason given.'}
              </Text>
              {scan.finishedAt && (
                <Text fz="xs" c="dimmed" mt={4}>
                  <RelativeTime value={scan.finishedAt} fz="xs" />
                </Text>
              )}
            </Alert>
          )}
          {scan?.status === 'SUCCESS' && (
            <>
              <Text fz="sm" c="dimmed">
                Scanned <RelativeTime value={scan.finishedAt} fz="sm" c="var(--mantine-color-text)" />{scan.scanner ? ` by ${scan.scanner}` : ''}
                {scan.os ? ` · ${scan.os}` : ''} · {scan.packageCount.toLocaleString('en')} package{scan.packageCount === 1 ? '' : 's'} · {scan.fixableCount.toLocaleString('en')} with a fix
              </Text>
              <SeverityCounts counts={scan.severityCounts} />
            </>
          )}
        </Stack>
        {canScan && (
          <Button variant="default" leftSection={<IconShieldSearch size={16} />} onClick={scanNow} loading={requesting} disabled={active} style={{ flexShrink: 0 }}>
            {scan ? 'Scan again' : 'Scan now'}
          </Button>
        )}
      </Group>

      {scan?.sbom && <SBOM repository={repository} sbom={scan.sbom} />}

      {scan?.status === 'SUCCESS' && (
        <Paper withBorder radius="md">
          <Group p="sm" gap="lg">
            <Select
              placeholder="All severities"
              aria-label="Severity"
              data={SEVERITIES.map((s) => ({ value: s.value, label: s.label }))}
              value={filter.severity}
              onChange={(v) => changeFilter({ ...filter, severity: v as VulnerabilitySeverity | null })}
              clearable
              w={200}
              data-testid="vulnerabilities-severity"
            />
            <Switch label="Fixable only" checked={filter.fixable} onChange={(e) => changeFilter({ ...filter, fixable: e.currentTarget.checked })} />
          </Group>
          <Table.ScrollContainer minWidth={1040}>
            <Table verticalSpacing="xs" data-testid="vulnerabilities-table">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Vulnerability</Table.Th>
                  <FindingHeads severityMinWidth={120} />
                  <Table.Th>Summary</Table.Th>
                  <Table.Th>Layer</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {pages.map((after, i) => (
                  <VulnerabilityRows
                    key={`${scan.finishedAt}/${after ?? ''}`}
                    repository={repository}
                    reference={digest}
                    after={after}
                    where={where}
                    last={i === pages.length - 1}
                    onMore={(c) => setPages((p) => [...p, c])}
                  />
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
      )}
    </Stack>
  );
}
