import { Fragment, useEffect, useMemo, useState } from 'react';
import { ActionIcon, Alert, Autocomplete, Badge, Button, Code, Group, Loader, Modal, Paper, Select, Stack, Switch, Table, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconCalendarTime, IconChevronDown, IconChevronRight, IconPencil, IconPlayerStop, IconRefresh } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { JobState, JobsQuery, ScheduleKind, SchedulesQuery } from '@/gql/graphql';
import { EmptyState, ErrorState, PageHeader, TableSkeleton } from '@/components/Page';
import { RelativeTime } from '@/components/Time';
import { errorMessage } from '@/lib/errors';

const JobsDocument = graphql(`
  query Jobs($first: Int, $after: String, $where: JobWhereInput) {
    jobs(first: $first, after: $after, where: $where) {
      endCursor
      hasNextPage
      edges {
        cursor
        node {
          id
          kind
          state
          queue
          attempt
          maxAttempts
          args
          createdAt
          scheduledAt
          startedAt
          finishedAt
          errors {
            attempt
            at
            error
          }
        }
      }
    }
  }
`);

const CancelJobDocument = graphql(`
  mutation CancelJob($id: ID!) {
    cancelJob(id: $id) {
      id
      state
      finishedAt
    }
  }
`);

const RetryJobDocument = graphql(`
  mutation RetryJob($id: ID!) {
    retryJob(id: $id) {
      id
      state
      attempt
      scheduledAt
      finishedAt
    }
  }
`);

const SchedulesDocument = graphql(`
  query Schedules {
    schedules {
      kind
      project
      cron
      enabled
      nextRunAt
      updatedAt
      updatedBy
    }
  }
`);

const UpdateScheduleDocument = graphql(`
  mutation UpdateSchedule($input: UpdateScheduleInput!) {
    updateSchedule(input: $input) {
      kind
      project
      cron
      enabled
      nextRunAt
      updatedAt
      updatedBy
    }
  }
`);

type Job = NonNullable<NonNullable<JobsQuery['jobs']['edges'][number]>['node']>;
type Schedule = SchedulesQuery['schedules'][number];

/** The kinds of job berth runs today; the filter takes any other name too. */
export const JOB_KINDS = ['garbage_collection', 'retention', 'webhook_delivery', 'upload_purge', 'audit_purge', 'housekeeping'];

export const JOB_STATES: Record<JobState, { label: string; color: string }> = {
  AVAILABLE: { label: 'Available', color: 'blue' },
  PENDING: { label: 'Pending', color: 'gray' },
  SCHEDULED: { label: 'Scheduled', color: 'cyan' },
  RUNNING: { label: 'Running', color: 'blue' },
  RETRYABLE: { label: 'Retryable', color: 'orange' },
  COMPLETED: { label: 'Completed', color: 'green' },
  CANCELLED: { label: 'Cancelled', color: 'gray' },
  DISCARDED: { label: 'Discarded', color: 'red' },
};

/** Jobs in these states have not finished: they may be cancelled. */
const UNFINISHED: JobState[] = ['AVAILABLE', 'PENDING', 'SCHEDULED', 'RUNNING', 'RETRYABLE'];
/** Jobs in these states ran (or were stopped or failed): they may be run again. */
const RETRIABLE: JobState[] = ['COMPLETED', 'CANCELLED', 'DISCARDED', 'RETRYABLE'];
/** While a job in these states is listed, the list is read again every POLL_MS. */
const ACTIVE: JobState[] = ['AVAILABLE', 'RUNNING', 'RETRYABLE'];

export const POLL_MS = 5000;
const PAGE = 25;
const CTX = { additionalTypenames: ['Job'] };
// Mutation errors are shown on the page, not as a notification as well.
const QUIET = { ...CTX, quiet: true };

export const canCancel = (s: JobState) => UNFINISHED.includes(s);
export const canRetry = (s: JobState) => RETRIABLE.includes(s);

/** JobStateBadge is a job's state in its colour, with a spinner while it runs. */
export function JobStateBadge({ state }: { state: JobState }) {
  const s = JOB_STATES[state] ?? { label: state, color: 'gray' };
  return (
    <Badge color={s.color} variant="light" leftSection={state === 'RUNNING' ? <Loader size={10} color={s.color} /> : undefined}>
      {s.label}
    </Badge>
  );
}

/** JobRows is one page of the job list: its rows, expandable to the job's arguments and errors. */
function JobRows({
  after,
  where,
  last,
  onMore,
  onAction,
}: {
  after: string | null;
  where: { kind?: string; state?: JobState } | undefined;
  last: boolean;
  onMore: (cursor: string) => void;
  onAction: (job: Job, action: 'cancel' | 'retry') => void;
}) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: JobsDocument, variables: { first: PAGE, after, where }, context: useState(CTX)[0] });
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const jobs = data?.jobs.edges.map((e) => e.node) ?? [];
  const polling = jobs.some((j) => ACTIVE.includes(j.state));
  useEffect(() => {
    if (!polling) return;
    const id = setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => clearInterval(id);
  }, [polling, refetch]);

  if (fetching && !data) return <TableSkeleton columns={10} rows={3} />;
  if (error && !data) {
    return (
      <Table.Tr>
        <Table.Td colSpan={10}>
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Table.Td>
      </Table.Tr>
    );
  }
  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  return (
    <>
      {after === null && jobs.length === 0 && (
        <Table.Tr>
          <Table.Td colSpan={10}>
            <EmptyState title={where ? 'No job matches' : 'No jobs yet'}>{where ? 'Try another kind or state.' : 'Background work (garbage collection, retention, webhook deliveries) appears here.'}</EmptyState>
          </Table.Td>
        </Table.Tr>
      )}
      {jobs.map((j) => {
        const expanded = open.has(j.id);
        const lastError = j.errors.at(-1);
        return (
          <Fragment key={j.id}>
            <Table.Tr data-testid="job-row" aria-expanded={expanded} onClick={(e) => !(e.target as HTMLElement).closest('button') && toggle(j.id)} style={{ cursor: 'pointer' }}>
              <Table.Td>
                <ActionIcon variant="subtle" color="gray" aria-label={expanded ? 'Hide details' : 'Show details'} aria-expanded={expanded} onClick={() => toggle(j.id)}>
                  {expanded ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
                </ActionIcon>
              </Table.Td>
              <Table.Td ff="monospace" fz="sm">
                {j.id}
              </Table.Td>
              <Table.Td fz="sm" fw={500}>
                {j.kind}
              </Table.Td>
              <Table.Td>
                <JobStateBadge state={j.state} />
              </Table.Td>
              <Table.Td fz="sm" style={{ fontVariantNumeric: 'tabular-nums' }}>
                {j.attempt}/{j.maxAttempts}
              </Table.Td>
              <Table.Td>
                <RelativeTime value={j.createdAt} fz="sm" />
              </Table.Td>
              <Table.Td>
                <RelativeTime value={j.startedAt} fz="sm" empty={j.state === 'SCHEDULED' || j.state === 'AVAILABLE' ? 'not yet' : '—'} />
              </Table.Td>
              <Table.Td>
                <RelativeTime value={j.finishedAt} fz="sm" empty="—" />
              </Table.Td>
              <Table.Td maw={280}>
                {lastError ? (
                  <Tooltip label={lastError.error} multiline maw={480} withArrow openDelay={300}>
                    <Text fz="sm" c="red" truncate="end">
                      {lastError.error}
                    </Text>
                  </Tooltip>
                ) : (
                  <Text fz="sm" c="dimmed">
                    —
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                <Group gap={4} wrap="nowrap" justify="flex-end">
                  {canCancel(j.state) && (
                    <Button size="compact-sm" variant="light" color="red" leftSection={<IconPlayerStop size={14} />} onClick={() => onAction(j, 'cancel')}>
                      Cancel
                    </Button>
                  )}
                  {canRetry(j.state) && (
                    <Button size="compact-sm" variant="light" leftSection={<IconRefresh size={14} />} onClick={() => onAction(j, 'retry')}>
                      Retry
                    </Button>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
            {expanded && (
              <Table.Tr data-testid="job-details">
                <Table.Td />
                <Table.Td colSpan={9} style={{ whiteSpace: 'normal' }}>
                  <Stack gap="xs" py={4}>
                    <Text fz="sm" c="dimmed">
                      Queue <b>{j.queue}</b> · scheduled for <RelativeTime value={j.scheduledAt} fz="sm" />
                    </Text>
                    <Text fz="xs" tt="uppercase" fw={700} c="dimmed">
                      Arguments
                    </Text>
                    <Code block data-testid="job-args">
                      {JSON.stringify(j.args, null, 2)}
                    </Code>
                    <Text fz="xs" tt="uppercase" fw={700} c="dimmed">
                      Errors
                    </Text>
                    {j.errors.length === 0 ? (
                      <Text fz="sm" c="dimmed">
                        None
                      </Text>
                    ) : (
                      <Table withTableBorder fz="sm" data-testid="job-errors">
                        <Table.Thead>
                          <Table.Tr>
                            <Table.Th w={80}>Attempt</Table.Th>
                            <Table.Th w={160}>At</Table.Th>
                            <Table.Th>Error</Table.Th>
                          </Table.Tr>
                        </Table.Thead>
                        <Table.Tbody>
                          {j.errors.map((e, i) => (
                            <Table.Tr key={i}>
                              <Table.Td>{e.attempt}</Table.Td>
                              <Table.Td>
                                <RelativeTime value={e.at} fz="sm" />
                              </Table.Td>
                              <Table.Td ff="monospace" style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-word' }}>
                                {e.error}
                              </Table.Td>
                            </Table.Tr>
                          ))}
                        </Table.Tbody>
                      </Table>
                    )}
                  </Stack>
                </Table.Td>
              </Table.Tr>
            )}
          </Fragment>
        );
      })}
      {last && data?.jobs.hasNextPage && data.jobs.endCursor && (
        <Table.Tr>
          <Table.Td colSpan={10} ta="center">
            <Button variant="subtle" onClick={() => onMore(data.jobs.endCursor!)} data-testid="jobs-more">
              Load more
            </Button>
          </Table.Td>
        </Table.Tr>
      )}
    </>
  );
}

const SCHEDULE_NAMES: Record<ScheduleKind, string> = {
  GARBAGE_COLLECTION: 'Garbage collection',
  RETENTION: 'Tag retention',
  SCAN_ALL: 'Vulnerability scan of every image',
};

/** ScheduleEditor sets when a periodic job runs; berth checks the cron expression and its message shows under the field. */
export function ScheduleEditor({ schedule, onClose }: { schedule: Pick<Schedule, 'kind' | 'project' | 'cron' | 'enabled'> | null; onClose: () => void }) {
  const [cron, setCron] = useState('');
  const [enabled, setEnabled] = useState(true);
  const [cronError, setCronError] = useState<string | null>(null);
  const [{ fetching }, update] = useMutation(UpdateScheduleDocument);
  useEffect(() => {
    if (!schedule) return;
    setCron(schedule.cron);
    setEnabled(schedule.enabled);
    setCronError(null);
  }, [schedule]);
  const what = schedule ? `${SCHEDULE_NAMES[schedule.kind] ?? schedule.kind}${schedule.project ? ` of ${schedule.project}` : ''}` : '';
  return (
    <Modal opened={schedule !== null} onClose={onClose} title={<Text fw={600}>Schedule: {what}</Text>} centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!schedule) return;
          if (!cron.trim()) {
            setCronError('Enter a cron expression, such as @daily or 0 3 * * 0.');
            return;
          }
          const r = await update({ input: { kind: schedule.kind, project: schedule.project ?? undefined, cron: cron.trim(), enabled } }, { quiet: true, additionalTypenames: ['Schedule'] });
          if (r.error) {
            setCronError(errorMessage(r.error));
            return;
          }
          notifications.show({ color: 'teal', message: `${what} schedule saved.` });
          onClose();
        }}
      >
        <Stack>
          <TextInput
            label="Cron expression"
            description="Five fields (minute hour day month weekday), or @hourly, @daily, @weekly, @every 6h. Times are UTC."
            placeholder="0 3 * * *"
            value={cron}
            onChange={(e) => {
              setCron(e.currentTarget.value);
              setCronError(null);
            }}
            error={cronError}
            data-autofocus
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            data-testid="schedule-cron"
          />
          <Switch label="Enabled" description="A disabled schedule starts nothing." checked={enabled} onChange={(e) => setEnabled(e.currentTarget.checked)} data-testid="schedule-enabled" />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={fetching} data-testid="schedule-save">
              Save schedule
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** SchedulesSection lists the periodic jobs' schedules; garbage collection is always offered, scheduled or not. */
function SchedulesSection() {
  const [{ data, fetching, error }, refetch] = useQuery({ query: SchedulesDocument, context: useState({ additionalTypenames: ['Schedule'] })[0] });
  const [editing, setEditing] = useState<Pick<Schedule, 'kind' | 'project' | 'cron' | 'enabled'> | null>(null);
  const rows = useMemo(() => {
    const list: (Schedule | { kind: ScheduleKind; project: null; cron: ''; enabled: false; nextRunAt: null; updatedAt: null; updatedBy: ''; missing: true })[] = [...(data?.schedules ?? [])];
    if (data && !list.some((s) => s.kind === 'GARBAGE_COLLECTION')) {
      list.unshift({ kind: 'GARBAGE_COLLECTION', project: null, cron: '', enabled: false, nextRunAt: null, updatedAt: null, updatedBy: '', missing: true });
    }
    return list;
  }, [data]);
  return (
    <Paper withBorder radius="md">
      <Group p="md" pb="xs" gap="xs">
        <IconCalendarTime size={18} />
        <Title order={5}>Schedules</Title>
      </Group>
      {error && !data ? (
        <Stack p="md">
          <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />
        </Stack>
      ) : (
        <Table.ScrollContainer minWidth={760}>
          <Table verticalSpacing="sm" data-testid="schedules-table" style={{ whiteSpace: 'nowrap' }}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Job</Table.Th>
                <Table.Th>Project</Table.Th>
                <Table.Th>Cron</Table.Th>
                <Table.Th>Enabled</Table.Th>
                <Table.Th>Next run</Table.Th>
                <Table.Th>Changed</Table.Th>
                <Table.Th w={120} />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {fetching && !data ? (
                <TableSkeleton columns={7} rows={2} />
              ) : (
                rows.map((s) => {
                  const missing = 'missing' in s;
                  const label = SCHEDULE_NAMES[s.kind] ?? s.kind;
                  return (
                    <Table.Tr key={`${s.kind}/${s.project ?? ''}`} data-testid="schedule-row">
                      <Table.Td fw={500} fz="sm">
                        {label}
                      </Table.Td>
                      <Table.Td fz="sm">{s.project ?? <Text span c="dimmed" fz="sm">all</Text>}</Table.Td>
                      <Table.Td>{missing ? <Text span c="dimmed" fz="sm">not scheduled</Text> : <Code>{s.cron}</Code>}</Table.Td>
                      <Table.Td>
                        {missing ? null : s.enabled ? (
                          <Badge color="green" variant="light">
                            Enabled
                          </Badge>
                        ) : (
                          <Badge color="gray" variant="light">
                            Disabled
                          </Badge>
                        )}
                      </Table.Td>
                      <Table.Td>{s.enabled && s.nextRunAt ? <RelativeTime value={s.nextRunAt} fz="sm" /> : <Text span c="dimmed" fz="sm">—</Text>}</Table.Td>
                      <Table.Td fz="sm">
                        {s.updatedAt ? (
                          <>
                            <RelativeTime value={s.updatedAt} fz="sm" />
                            {s.updatedBy ? ` by ${s.updatedBy}` : ''}
                          </>
                        ) : (
                          <Text span c="dimmed" fz="sm">
                            —
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td ta="right">
                        {missing ? (
                          <Button
                            size="compact-sm"
                            variant="light"
                            leftSection={<IconCalendarTime size={14} />}
                            aria-label={`Edit schedule of ${label}`}
                            onClick={() => setEditing({ kind: s.kind, project: s.project, cron: '@daily', enabled: true })}
                          >
                            Schedule
                          </Button>
                        ) : (
                          <Tooltip label="Edit schedule">
                            <ActionIcon
                              variant="subtle"
                              aria-label={`Edit schedule of ${label}${s.project ? ` in ${s.project}` : ''}`}
                              onClick={() => setEditing({ kind: s.kind, project: s.project, cron: s.cron, enabled: s.enabled })}
                            >
                              <IconPencil size={16} />
                            </ActionIcon>
                          </Tooltip>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })
              )}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <ScheduleEditor schedule={editing} onClose={() => setEditing(null)} />
    </Paper>
  );
}

/**
 * JobsPage lets system admins follow berth's background work: the job
 * queue, filtered by kind and state, with each job's arguments and errors,
 * cancel and retry; and when the periodic jobs run.
 */
export function JobsPage() {
  const [kindInput, setKindInput] = useState('');
  const [kind] = useDebouncedValue(kindInput.trim(), 300);
  const [state, setState] = useState<JobState | null>(null);
  const where = useMemo(() => (kind || state ? { ...(kind ? { kind } : {}), ...(state ? { state } : {}) } : undefined), [kind, state]);
  const [pages, setPages] = useState<(string | null)[]>([null]);
  useEffect(() => setPages([null]), [where]);
  const [actionError, setActionError] = useState<string | null>(null);
  const [, cancel] = useMutation(CancelJobDocument);
  const [, retry] = useMutation(RetryJobDocument);
  const [refreshKey, setRefreshKey] = useState(0);

  const act = async (job: Job, action: 'cancel' | 'retry') => {
    setActionError(null);
    const r = action === 'cancel' ? await cancel({ id: job.id }, QUIET) : await retry({ id: job.id }, QUIET);
    if (r.error) {
      setActionError(`Could not ${action} job ${job.id} (${job.kind}): ${errorMessage(r.error)}`);
      return;
    }
    notifications.show({ color: 'teal', message: action === 'cancel' ? `Job ${job.id} cancelled.` : `Job ${job.id} will run again.` });
  };

  return (
    <>
      <PageHeader
        title="Jobs"
        subtitle="Background work: garbage collection, tag retention, webhook deliveries and housekeeping, and when the periodic jobs run."
        actions={
          <Button variant="default" leftSection={<IconRefresh size={16} />} onClick={() => setRefreshKey((k) => k + 1)}>
            Refresh
          </Button>
        }
      />
      <Stack gap="lg">
        <Paper withBorder radius="md">
          <Group p="sm" gap="sm">
            <Autocomplete
              placeholder="All kinds"
              aria-label="Kind"
              data={JOB_KINDS}
              value={kindInput}
              onChange={setKindInput}
              w={240}
              data-testid="jobs-kind"
            />
            <Select
              placeholder="All states"
              aria-label="State"
              data={Object.entries(JOB_STATES).map(([value, s]) => ({ value, label: s.label }))}
              value={state}
              onChange={(v) => setState(v as JobState | null)}
              clearable
              w={200}
              data-testid="jobs-state"
            />
          </Group>
          {actionError && (
            <Alert color="red" variant="light" mx="sm" mb="sm" icon={<IconAlertTriangle />} withCloseButton onClose={() => setActionError(null)} role="alert" data-testid="job-error">
              {actionError}
            </Alert>
          )}
          <Table.ScrollContainer minWidth={1100}>
            <Table verticalSpacing="sm" highlightOnHover data-testid="jobs-table" style={{ whiteSpace: 'nowrap' }}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th w={44} />
                  <Table.Th>ID</Table.Th>
                  <Table.Th>Kind</Table.Th>
                  <Table.Th>State</Table.Th>
                  <Table.Th>Attempt</Table.Th>
                  <Table.Th>Created</Table.Th>
                  <Table.Th>Started</Table.Th>
                  <Table.Th>Finished</Table.Th>
                  <Table.Th>Last error</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody key={refreshKey}>
                {pages.map((after, i) => (
                  <JobRows key={after ?? ''} after={after} where={where} last={i === pages.length - 1} onMore={(c) => setPages((p) => [...p, c])} onAction={act} />
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Paper>
        <SchedulesSection />
      </Stack>
    </>
  );
}
