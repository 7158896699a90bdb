import { Fragment, useEffect, useRef, useState } from 'react';
import { ActionIcon, Alert, Badge, Button, Checkbox, Code, Group, Loader, Paper, ScrollArea, SimpleGrid, Skeleton, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconChevronDown, IconChevronRight, IconEye, IconRecycle } from '@tabler/icons-react';
import { useMutation, useQuery, type CombinedError } from 'urql';
import { graphql } from '@/gql';
import type { GarbageCollectionStatus } from '@/gql/graphql';
import { EmptyState, ErrorState, PageHeader, TableSkeleton } from '@/components/Page';
import { ConfirmDialog } from '@/components/ConfirmDialog';
import { Size } from '@/components/Size';
import { RelativeTime } from '@/components/Time';
import { errorCode, errorMessage } from '@/lib/errors';
import { formatBytes, formatDuration } from '@/lib/format';

const GarbageCollectionsDocument = graphql(`
  query GarbageCollections($first: Int, $after: Cursor) {
    garbageCollections(first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          status
          dryRun
          deleteUntagged
          triggeredBy
          startedAt
          finishedAt
          blobsDeleted
          bytesFreed
          artifactsDeleted
          log
        }
      }
    }
  }
`);

const GarbageCollectionStorageDocument = graphql(`
  query GarbageCollectionStorage {
    systemInfo {
      storedBytes
      storageBytesOnDisk
    }
  }
`);

const RunGarbageCollectionDocument = graphql(`
  mutation RunGarbageCollection($input: RunGarbageCollectionInput!) {
    runGarbageCollection(input: $input) {
      id
      status
      dryRun
      deleteUntagged
      startedAt
    }
  }
`);

/** How often the list is reloaded while a run is in progress. */
export const POLL_MS = 2000;
const PAGE = 20;
// The list is reloaded after a run starts even when it held no run yet
// (the document cache only knows the typenames a result contained).
const CTX = { additionalTypenames: ['GarbageCollection'] };
// Mutation errors are shown on the page, not as a notification as well.
const QUIET = { ...CTX, quiet: true };

const STATUS: Record<GarbageCollectionStatus, { label: string; color: string }> = {
  RUNNING: { label: 'Running', color: 'blue' },
  SUCCEEDED: { label: 'Succeeded', color: 'green' },
  FAILED: { label: 'Failed', color: 'red' },
};

/** StatusBadge is a run's status in its colour, with a spinner while it runs. */
export function StatusBadge({ status }: { status: GarbageCollectionStatus }) {
  const s = STATUS[status] ?? { label: status, color: 'gray' };
  return (
    <Badge color={s.color} variant="light" leftSection={status === 'RUNNING' ? <Loader size={10} color={s.color} /> : undefined}>
      {s.label}
    </Badge>
  );
}

/** runErrorMessage says why a run could not start, in words an admin acts on. */
export function runErrorMessage(error: CombinedError): string {
  switch (errorCode(error)) {
    case 'CONFLICT':
      return 'A garbage collection is already running. Wait for it to finish (the history below follows it), then try again.';
    case 'FORBIDDEN':
      return 'Only system admins may run garbage collection.';
    default:
      return errorMessage(error);
  }
}

/** Elapsed counts up each second from start while a run is in progress. */
function Elapsed({ start }: { start: string }) {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(id);
  }, []);
  return <>{formatDuration(start, null, now)}</>;
}

/** Figure is a count in a run's row, dimmed for a dry run: its counts are what a real run would have deleted. */
function Figure({ children, dry }: { children: React.ReactNode; dry: boolean }) {
  if (!dry) return <>{children}</>;
  return (
    <Text span fz="sm" c="dimmed">
      {children}
    </Text>
  );
}

function Stat({ label, value, hint, testId }: { label: string; value: React.ReactNode; hint: React.ReactNode; testId?: string }) {
  return (
    <Paper withBorder radius="md" p="md" data-testid={testId}>
      <Text c="dimmed" fz="xs" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text fw={700} fz={22} component="div">
        {value}
      </Text>
      <Text c="dimmed" fz="xs" component="div">
        {hint}
      </Text>
    </Paper>
  );
}

/**
 * GarbageCollectionPage lets system admins reclaim the storage of blobs no
 * artifact references any more: start a run (or a dry run), follow it,
 * and read the history with each run's log.
 */
export function GarbageCollectionPage() {
  const [first, setFirst] = useState(PAGE);
  const [{ data: fresh, fetching, error }, refetch] = useQuery({ query: GarbageCollectionsDocument, variables: { first }, context: useState(CTX)[0] });
  // Keep the rows on screen while "Show older runs" loads more of them.
  const last = useRef(fresh);
  if (fresh) last.current = fresh;
  const data = fresh ?? last.current;
  const [{ data: storage, fetching: storageFetching }, refetchStorage] = useQuery({ query: GarbageCollectionStorageDocument });
  const [{ fetching: starting }, run] = useMutation(RunGarbageCollectionDocument);
  const [deleteUntagged, setDeleteUntagged] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [runError, setRunError] = useState<string | null>(null);
  const [open, setOpen] = useState<Set<string>>(() => new Set());

  const runs = data?.garbageCollections.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const current = runs.find((r) => r.status === 'RUNNING');
  const running = Boolean(current);

  // Follow a run until it ends, then read the storage figures again.
  useEffect(() => {
    if (!running) return;
    const id = setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => clearInterval(id);
  }, [running, refetch]);
  const wasRunning = useRef(false);
  useEffect(() => {
    if (wasRunning.current && !running) refetchStorage({ requestPolicy: 'network-only' });
    wasRunning.current = running;
  }, [running, refetchStorage]);

  const start = async (dryRun: boolean): Promise<boolean> => {
    setRunError(null);
    const r = await run({ input: { dryRun, deleteUntagged, wait: false } }, QUIET);
    if (r.error) {
      setRunError(runErrorMessage(r.error));
      // Another run may be what stood in the way: show it and follow it.
      refetch({ requestPolicy: 'network-only' });
      return true;
    }
    notifications.show({ color: 'teal', message: dryRun ? 'Dry run started.' : 'Garbage collection started.' });
    refetch({ requestPolicy: 'network-only' });
    return true;
  };

  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const info = storage?.systemInfo;
  const latest = runs.find((r) => r.status !== 'RUNNING');

  return (
    <>
      <PageHeader
        title="Garbage collection"
        subtitle="Reclaim the storage of blobs that no artifact references any more. Runs online: pushes and pulls go on meanwhile."
      />
      <Stack gap="lg">
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Stat
            label="Stored blobs"
            testId="gc-stored"
            value={info ? formatBytes(info.storedBytes) : storageFetching ? <Skeleton h={30} w={100} my={2} /> : '—'}
            hint="Distinct blob bytes berth keeps track of"
          />
          <Stat
            label="On disk"
            testId="gc-on-disk"
            value={info ? formatBytes(info.storageBytesOnDisk) : storageFetching ? <Skeleton h={30} w={100} my={2} /> : '—'}
            hint="What the storage backend really holds"
          />
          <Stat
            label="Last finished run"
            testId="gc-last-run"
            value={latest ? formatBytes(latest.bytesFreed) : '—'}
            hint={
              latest ? (
                <>
                  {latest.dryRun ? 'would be freed by the dry run' : latest.status === 'FAILED' ? 'freed before it failed' : 'freed'} <RelativeTime value={latest.finishedAt ?? latest.startedAt} fz="xs" />
                </>
              ) : (
                'No run has finished yet'
              )
            }
          />
        </SimpleGrid>

        <Paper withBorder radius="md" p="md">
          <Group justify="space-between" align="flex-end" gap="md">
            <Stack gap={6} style={{ flex: 1, minWidth: 260 }}>
              <Title order={5}>Run now</Title>
              <Text fz="sm" c="dimmed">
                A dry run reports what would be freed and deletes nothing.
              </Text>
              <Checkbox
                mt={4}
                label="Also delete untagged artifacts"
                description="Artifacts with no tag that no index lists and that are not a referrer, pushed longer ago than the grace period."
                checked={deleteUntagged}
                onChange={(e) => setDeleteUntagged(e.currentTarget.checked)}
                data-testid="gc-delete-untagged"
              />
            </Stack>
            <Group gap="xs">
              <Button variant="default" leftSection={<IconEye size={16} />} onClick={() => start(true)} loading={starting && !confirming} disabled={running} data-testid="gc-dry-run">
                Dry run
              </Button>
              <Button color="red" leftSection={<IconRecycle size={16} />} onClick={() => setConfirming(true)} disabled={running || starting} data-testid="gc-run">
                Run garbage collection
              </Button>
            </Group>
          </Group>
          {running && current && (
            <Alert color="blue" variant="light" mt="md" icon={<Loader size={16} />} data-testid="gc-running">
              {current.dryRun ? 'A dry run' : 'A garbage collection'} is running, started <RelativeTime value={current.startedAt} fz="sm" />
              {current.triggeredBy ? ` by ${current.triggeredBy}` : ''}. This page follows it until it finishes.
            </Alert>
          )}
          {runError && (
            <Alert color="red" variant="light" mt="md" icon={<IconAlertTriangle />} title="Could not start garbage collection" withCloseButton onClose={() => setRunError(null)} role="alert" data-testid="gc-error">
              {runError}
            </Alert>
          )}
        </Paper>

        <Paper withBorder radius="md">
          <Group justify="space-between" p="md" pb="xs">
            <Title order={5}>History</Title>
            {data && (
              <Text fz="sm" c="dimmed">
                {data.garbageCollections.totalCount === 0
                  ? 'No runs'
                  : `${runs.length.toLocaleString('en')} of ${data.garbageCollections.totalCount.toLocaleString('en')} ${data.garbageCollections.totalCount === 1 ? 'run' : 'runs'}`}
              </Text>
            )}
          </Group>
          {error && !data ? (
            <Stack p="md">
              <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
            </Stack>
          ) : (
            <Table.ScrollContainer minWidth={1080}>
              <Table verticalSpacing="sm" highlightOnHover data-testid="gc-table" style={{ whiteSpace: 'nowrap' }}>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th w={44} />
                    <Table.Th>Status</Table.Th>
                    <Table.Th>Mode</Table.Th>
                    <Table.Th>Started</Table.Th>
                    <Table.Th>Duration</Table.Th>
                    <Table.Th ta="right">Blobs deleted</Table.Th>
                    <Table.Th ta="right">Bytes freed</Table.Th>
                    <Table.Th ta="right">Artifacts deleted</Table.Th>
                    <Table.Th>Triggered by</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {fetching && !data ? (
                    <TableSkeleton columns={9} />
                  ) : (
                    runs.map((r) => {
                      const expanded = open.has(r.id);
                      return (
                        <Fragment key={r.id}>
                          <Table.Tr onClick={() => toggle(r.id)} style={{ cursor: 'pointer' }} data-testid="gc-row" aria-expanded={expanded}>
                            <Table.Td>
                              <ActionIcon
                                variant="subtle"
                                color="gray"
                                aria-label={expanded ? 'Hide log' : 'Show log'}
                                aria-expanded={expanded}
                                onClick={(e) => {
                                  e.stopPropagation();
                                  toggle(r.id);
                                }}
                              >
                                {expanded ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
                              </ActionIcon>
                            </Table.Td>
                            <Table.Td>
                              <StatusBadge status={r.status} />
                            </Table.Td>
                            <Table.Td>
                              <Group gap={4} wrap="nowrap">
                                {r.dryRun ? (
                                  <Tooltip label="Deleted nothing: its counts are what a real run would delete" openDelay={300} withArrow>
                                    <Badge color="gray" variant="outline">
                                      Dry run
                                    </Badge>
                                  </Tooltip>
                                ) : (
                                  <Text span fz="sm">
                                    Real run
                                  </Text>
                                )}
                                {r.deleteUntagged && (
                                  <Tooltip label="Also deleted untagged artifacts" openDelay={300} withArrow>
                                    <Badge color="orange" variant="light">
                                      + untagged
                                    </Badge>
                                  </Tooltip>
                                )}
                              </Group>
                            </Table.Td>
                            <Table.Td>
                              <RelativeTime value={r.startedAt} fz="sm" />
                            </Table.Td>
                            <Table.Td fz="sm">
                              {r.status === 'RUNNING' && !r.finishedAt ? <Elapsed start={r.startedAt} /> : formatDuration(r.startedAt, r.finishedAt)}
                            </Table.Td>
                            <Table.Td fz="sm" ta="right" style={{ fontVariantNumeric: 'tabular-nums' }}>
                              <Figure dry={r.dryRun}>{r.blobsDeleted.toLocaleString('en')}</Figure>
                            </Table.Td>
                            <Table.Td fz="sm" ta="right" style={{ fontVariantNumeric: 'tabular-nums' }}>
                              <Figure dry={r.dryRun}>
                                <Size bytes={r.bytesFreed} fz="sm" />
                              </Figure>
                            </Table.Td>
                            <Table.Td fz="sm" ta="right" style={{ fontVariantNumeric: 'tabular-nums' }}>
                              <Figure dry={r.dryRun}>{r.artifactsDeleted.toLocaleString('en')}</Figure>
                            </Table.Td>
                            <Table.Td fz="sm">
                              {r.triggeredBy || (
                                <Text span c="dimmed" fz="sm">
                                  —
                                </Text>
                              )}
                            </Table.Td>
                          </Table.Tr>
                          {expanded && (
                            <Table.Tr>
                              <Table.Td colSpan={9} style={{ whiteSpace: 'normal' }}>
                                <ScrollArea.Autosize mah={360} type="auto">
                                  {r.log ? (
                                    <Code block data-testid="gc-log" fz="xs" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>
                                      {r.log}
                                    </Code>
                                  ) : (
                                    <Text fz="sm" c="dimmed" data-testid="gc-log">
                                      {r.status === 'RUNNING' ? 'No output yet.' : 'This run wrote no log.'}
                                    </Text>
                                  )}
                                </ScrollArea.Autosize>
                              </Table.Td>
                            </Table.Tr>
                          )}
                        </Fragment>
                      );
                    })
                  )}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          {data && runs.length === 0 && (
            <EmptyState title="No garbage collection yet" icon={<IconRecycle size={26} />}>
              Start with a dry run to see how much storage a real run would free.
            </EmptyState>
          )}
          {data?.garbageCollections.pageInfo.hasNextPage && (
            <Group justify="center" p="sm">
              <Button variant="default" size="xs" onClick={() => setFirst((n) => n + PAGE)} loading={fetching}>
                Show older runs
              </Button>
            </Group>
          )}
          <div style={{ height: 8 }} />
        </Paper>
      </Stack>

      <ConfirmDialog
        opened={confirming}
        onClose={() => setConfirming(false)}
        title="Run garbage collection"
        confirmLabel="Run garbage collection"
        onConfirm={() => start(false)}
      >
        <Text fz="sm">
          Delete every blob that no artifact references{deleteUntagged ? <>, and <b>every untagged artifact</b> past the grace period,</> : ''} for good? This cannot be undone. Try a dry run first to see what would go.
        </Text>
      </ConfirmDialog>
    </>
  );
}
