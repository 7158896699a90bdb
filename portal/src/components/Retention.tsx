import { Fragment, useEffect, useRef, useState } from 'react';
import { ActionIcon, Alert, Badge, Button, Code, Group, Loader, NumberInput, Paper, Select, SimpleGrid, Skeleton, Stack, Switch, Table, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { IconAlertTriangle, IconChevronDown, IconChevronRight, IconEye, IconPlayerPlay, IconPlus, IconTrash } from '@tabler/icons-react';
import { useMutation, useQuery } from 'urql';
import { graphql } from '@/gql';
import type { RetentionPolicyQuery, RetentionRuleInput, RetentionTemplate } from '@/gql/graphql';
import { EmptyState, ErrorState, TableSkeleton } from './Page';
import { ConfirmDialog } from './ConfirmDialog';
import { PatternField, type PatternValue } from './PatternField';
import { RelativeTime } from './Time';
import { StatusBadge } from '@/pages/GarbageCollection';
import { errorMessage } from '@/lib/errors';
import { formatDuration, shortDigest } from '@/lib/format';

const RetentionPolicyDocument = graphql(`
  query RetentionPolicy($project: String!) {
    retentionPolicy(project: $project) {
      project
      rules {
        repositories {
          pattern
          exclude
        }
        tags {
          pattern
          exclude
        }
        untagged
        template
        count
        days
        disabled
      }
      schedule
      nextRunAt
      updatedAt
      updatedBy
    }
  }
`);

const RetentionExecutionsDocument = graphql(`
  query RetentionExecutions($project: String!, $first: Int) {
    retentionExecutions(project: $project, first: $first) {
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
          triggeredBy
          startedAt
          finishedAt
          retainedCount
          repositories {
            repository
            deleted
            retained
          }
        }
      }
    }
  }
`);

const RetentionExecutionDocument = graphql(`
  query RetentionExecution($id: ID!) {
    retentionExecution(id: $id) {
      id
      status
      log
      repositories {
        repository
        deleted
        retained
      }
      deleted {
        repository
        digest
        tags
        reason
      }
      retained {
        repository
        digest
        tags
        reason
      }
    }
  }
`);

const SetRetentionPolicyDocument = graphql(`
  mutation SetRetentionPolicy($project: String!, $input: RetentionPolicyInput!) {
    setRetentionPolicy(project: $project, input: $input) {
      project
      schedule
      nextRunAt
      updatedAt
      updatedBy
      rules {
        repositories {
          pattern
          exclude
        }
        tags {
          pattern
          exclude
        }
        untagged
        template
        count
        days
        disabled
      }
    }
  }
`);

const DeleteRetentionPolicyDocument = graphql(`
  mutation DeleteRetentionPolicy($project: String!) {
    deleteRetentionPolicy(project: $project)
  }
`);

const RunRetentionDocument = graphql(`
  mutation RunRetention($project: String!, $dryRun: Boolean!) {
    runRetention(project: $project, dryRun: $dryRun, wait: false) {
      id
      status
      dryRun
      startedAt
    }
  }
`);

/** The most rules a policy holds (retention.graphql). */
export const MAX_RULES = 15;
/** How often the history is read again while a run is in progress. */
export const POLL_MS = 2000;
const CTX = { additionalTypenames: ['RetentionPolicy', 'RetentionExecution'] };
const QUIET = { ...CTX, quiet: true };

export const TEMPLATES: { value: RetentionTemplate; label: string; unit?: 'count' | 'days' }[] = [
  { value: 'LATEST_PUSHED', label: 'retain the most recently pushed # artifacts', unit: 'count' },
  { value: 'LATEST_PULLED', label: 'retain the most recently pulled # artifacts', unit: 'count' },
  { value: 'PUSHED_WITHIN_DAYS', label: 'retain the artifacts pushed within the last # days', unit: 'days' },
  { value: 'PULLED_WITHIN_DAYS', label: 'retain the artifacts pulled within the last # days', unit: 'days' },
  { value: 'ALWAYS', label: 'retain always' },
];
const unitOf = (t: RetentionTemplate) => TEMPLATES.find((x) => x.value === t)?.unit;

/** A rule as the editor holds it. */
export interface RuleDraft {
  repositories: PatternValue;
  tags: PatternValue;
  untagged: boolean;
  template: RetentionTemplate;
  count: number | string;
  days: number | string;
  disabled: boolean;
}

export const newRule = (): RuleDraft => ({
  repositories: { pattern: '**', exclude: false },
  tags: { pattern: '**', exclude: false },
  untagged: false,
  template: 'LATEST_PUSHED',
  count: 10,
  days: 30,
  disabled: false,
});

/** describeRule says what a rule keeps, in one line. */
export function describeRule(r: Pick<RuleDraft, 'template' | 'count' | 'days'>): string {
  const t = TEMPLATES.find((x) => x.value === r.template);
  if (!t) return r.template;
  if (t.unit === 'count') return t.label.replace('#', String(r.count));
  if (t.unit === 'days') return t.label.replace('#', String(r.days));
  return t.label;
}

/** validateRules returns messages keyed "<index>.<field>" for what is wrong. */
export function validateRules(rules: RuleDraft[]): Record<string, string> {
  const errors: Record<string, string> = {};
  if (rules.length > MAX_RULES) errors.rules = `A policy holds at most ${MAX_RULES} rules.`;
  rules.forEach((r, i) => {
    if (!r.repositories.pattern.trim()) errors[`${i}.repositories`] = 'Enter a pattern, such as ** for every repository.';
    if (!r.tags.pattern.trim()) errors[`${i}.tags`] = 'Enter a pattern, such as ** for every tag.';
    const unit = unitOf(r.template);
    const n = unit === 'count' ? r.count : unit === 'days' ? r.days : 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) errors[`${i}.${unit}`] = unit === 'count' ? 'Keep at least 1.' : 'At least 1 day.';
  });
  return errors;
}

/** ruleInputs turns the drafts into the API's rules. */
export function ruleInputs(rules: RuleDraft[]): RetentionRuleInput[] {
  return rules.map((r) => {
    const unit = unitOf(r.template);
    return {
      repositories: { pattern: r.repositories.pattern.trim(), exclude: r.repositories.exclude },
      tags: { pattern: r.tags.pattern.trim(), exclude: r.tags.exclude },
      untagged: r.untagged,
      template: r.template,
      ...(unit === 'count' ? { count: Number(r.count) } : {}),
      ...(unit === 'days' ? { days: Number(r.days) } : {}),
      disabled: r.disabled,
    };
  });
}

type Policy = NonNullable<RetentionPolicyQuery['retentionPolicy']>;

function draftsOf(p: Policy | null | undefined): RuleDraft[] {
  return (p?.rules ?? []).map((r) => ({
    repositories: { ...r.repositories },
    tags: { ...r.tags },
    untagged: r.untagged,
    template: r.template,
    count: r.count ?? 10,
    days: r.days ?? 30,
    disabled: r.disabled,
  }));
}

function RuleEditor({ index, rule, onChange, onRemove, errors, readOnly }: { index: number; rule: RuleDraft; onChange: (r: RuleDraft) => void; onRemove: () => void; errors: Record<string, string>; readOnly: boolean }) {
  const unit = unitOf(rule.template);
  return (
    <Paper withBorder radius="sm" p="sm" data-testid="retention-rule" style={{ opacity: rule.disabled ? 0.7 : 1 }}>
      <Group justify="space-between" mb="xs">
        <Group gap="xs">
          <Text fw={600} fz="sm">
            Rule {index + 1}
          </Text>
          {rule.disabled && (
            <Badge size="sm" color="gray" variant="light">
              Disabled
            </Badge>
          )}
        </Group>
        {!readOnly && (
          <Tooltip label="Remove rule">
            <ActionIcon variant="subtle" color="red" aria-label={`Remove rule ${index + 1}`} onClick={onRemove}>
              <IconTrash size={16} />
            </ActionIcon>
          </Tooltip>
        )}
      </Group>
      <Stack gap="sm">
        <Group align="flex-start" gap="md">
          <PatternField label="Repositories" value={rule.repositories} onChange={(v) => onChange({ ...rule, repositories: v })} error={errors[`${index}.repositories`]} readOnly={readOnly} />
          <PatternField label="Tags" value={rule.tags} onChange={(v) => onChange({ ...rule, tags: v })} error={errors[`${index}.tags`]} readOnly={readOnly} />
        </Group>
        <Group align="flex-end" gap="md">
          <Select
            label="Keep"
            data={TEMPLATES.map((t) => ({ value: t.value, label: t.label }))}
            value={rule.template}
            onChange={(v) => v && onChange({ ...rule, template: v as RetentionTemplate })}
            allowDeselect={false}
            w={380}
            readOnly={readOnly}
            aria-label={`Template of rule ${index + 1}`}
          />
          {unit === 'count' && (
            <NumberInput label="Count" min={1} allowDecimal={false} value={rule.count} onChange={(v) => onChange({ ...rule, count: v })} w={120} error={errors[`${index}.count`]} readOnly={readOnly} aria-label={`Count of rule ${index + 1}`} />
          )}
          {unit === 'days' && (
            <NumberInput label="Days" min={1} allowDecimal={false} value={rule.days} onChange={(v) => onChange({ ...rule, days: v })} w={120} error={errors[`${index}.days`]} readOnly={readOnly} aria-label={`Days of rule ${index + 1}`} />
          )}
        </Group>
        <Group gap="xl">
          <Switch label="Also untagged artifacts" checked={rule.untagged} onChange={(e) => onChange({ ...rule, untagged: e.currentTarget.checked })} disabled={readOnly} aria-label={`Untagged in rule ${index + 1}`} />
          <Switch label="Disabled" checked={rule.disabled} onChange={(e) => onChange({ ...rule, disabled: e.currentTarget.checked })} disabled={readOnly} aria-label={`Disable rule ${index + 1}`} />
        </Group>
      </Stack>
    </Paper>
  );
}

function CandidateTable({ rows, testId, what }: { rows: { repository: string; digest: string; tags: readonly string[]; reason: string }[]; testId: string; what: string }) {
  if (rows.length === 0)
    return (
      <Text fz="sm" c="dimmed">
        {what}
      </Text>
    );
  return (
    <Table withTableBorder fz="sm" verticalSpacing={4} data-testid={testId}>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Repository</Table.Th>
          <Table.Th>Digest</Table.Th>
          <Table.Th>Tags</Table.Th>
          <Table.Th>Reason</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((c) => (
          <Table.Tr key={`${c.repository}@${c.digest}`}>
            <Table.Td>{c.repository}</Table.Td>
            <Table.Td ff="monospace" title={c.digest}>
              {shortDigest(c.digest)}
            </Table.Td>
            <Table.Td>
              {c.tags.length ? (
                c.tags.join(', ')
              ) : (
                <Text span c="dimmed" fz="sm">
                  untagged
                </Text>
              )}
            </Table.Td>
            <Table.Td>{c.reason}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** ExecutionDetails is what one run did: counts per repository, the deleted and the retained artifacts, and its log. */
function ExecutionDetails({ id, running }: { id: string; running: boolean }) {
  const [{ data, error }, refetch] = useQuery({ query: RetentionExecutionDocument, variables: { id } });
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => clearInterval(t);
  }, [running, refetch]);
  if (error && !data) return <ErrorState error={error} />;
  const e = data?.retentionExecution;
  if (!e) return <Skeleton h={60} />;
  return (
    <Stack gap="sm" py={4} data-testid="retention-execution">
      <Text fz="xs" tt="uppercase" fw={700} c="dimmed">
        Per repository
      </Text>
      {e.repositories.length === 0 ? (
        <Text fz="sm" c="dimmed">
          No repository was selected by the rules.
        </Text>
      ) : (
        <Table withTableBorder fz="sm" verticalSpacing={4} data-testid="retention-repositories" maw={560}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Repository</Table.Th>
              <Table.Th ta="right">Deleted</Table.Th>
              <Table.Th ta="right">Retained</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {e.repositories.map((r) => (
              <Table.Tr key={r.repository}>
                <Table.Td>{r.repository}</Table.Td>
                <Table.Td ta="right">{r.deleted}</Table.Td>
                <Table.Td ta="right">{r.retained}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Text fz="xs" tt="uppercase" fw={700} c="dimmed">
        Deleted
      </Text>
      <CandidateTable rows={e.deleted} testId="retention-deleted" what="Nothing." />
      <Text fz="xs" tt="uppercase" fw={700} c="dimmed">
        Retained
      </Text>
      <CandidateTable rows={e.retained} testId="retention-retained" what="Nothing." />
      {e.log.trim() && (
        <>
          <Text fz="xs" tt="uppercase" fw={700} c="dimmed">
            Log
          </Text>
          <Code block>{e.log}</Code>
        </>
      )}
    </Stack>
  );
}

/** RetentionHistory lists a project's retention runs, following a running one until it ends. */
function RetentionHistory({ project }: { project: string }) {
  const [first, setFirst] = useState(10);
  const [{ data: fresh, fetching, error }, refetch] = useQuery({ query: RetentionExecutionsDocument, variables: { project, first }, context: useState(CTX)[0] });
  const last = useRef(fresh);
  if (fresh) last.current = fresh;
  const data = fresh ?? last.current;
  const [open, setOpen] = useState<Set<string>>(() => new Set());
  const runs = data?.retentionExecutions.edges?.flatMap((e) => (e?.node ? [e.node] : [])) ?? [];
  const running = runs.some((r) => r.status === 'RUNNING');
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => clearInterval(t);
  }, [running, refetch]);
  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  if (data && runs.length === 0)
    return (
      <Text fz="sm" c="dimmed" px="md" pb="md">
        No runs yet.
      </Text>
    );
  return (
    <>
      <Table.ScrollContainer minWidth={820}>
        <Table verticalSpacing="sm" highlightOnHover data-testid="retention-history" style={{ whiteSpace: 'nowrap' }}>
          <Table.Thead>
            <Table.Tr>
              <Table.Th w={44} />
              <Table.Th>Status</Table.Th>
              <Table.Th>Mode</Table.Th>
              <Table.Th>Started</Table.Th>
              <Table.Th>Finished</Table.Th>
              <Table.Th ta="right">Deleted</Table.Th>
              <Table.Th ta="right">Retained</Table.Th>
              <Table.Th>Triggered by</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {fetching && !data ? (
              <TableSkeleton columns={8} rows={2} />
            ) : (
              runs.map((r) => {
                const expanded = open.has(r.id);
                const deleted = r.repositories.reduce((n, x) => n + x.deleted, 0);
                return (
                  <Fragment key={r.id}>
                    <Table.Tr data-testid="retention-run" aria-expanded={expanded} style={{ cursor: 'pointer' }} onClick={(e) => !(e.target as HTMLElement).closest('button') && toggle(r.id)}>
                      <Table.Td>
                        <ActionIcon variant="subtle" color="gray" aria-label={expanded ? 'Hide run' : 'Show run'} aria-expanded={expanded} onClick={() => toggle(r.id)}>
                          {expanded ? <IconChevronDown size={16} /> : <IconChevronRight size={16} />}
                        </ActionIcon>
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={r.status as 'RUNNING' | 'SUCCEEDED' | 'FAILED'} />
                      </Table.Td>
                      <Table.Td>
                        {r.dryRun ? (
                          <Tooltip label="Deleted nothing: it lists what a real run would delete" withArrow openDelay={300}>
                            <Badge color="gray" variant="outline">
                              Dry run
                            </Badge>
                          </Tooltip>
                        ) : (
                          <Text span fz="sm">
                            Real run
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <RelativeTime value={r.startedAt} fz="sm" />
                      </Table.Td>
                      <Table.Td>
                        {r.finishedAt ? (
                          <Text span fz="sm">
                            <RelativeTime value={r.finishedAt} fz="sm" /> ({formatDuration(r.startedAt, r.finishedAt)})
                          </Text>
                        ) : (
                          <Text span c="dimmed" fz="sm">
                            —
                          </Text>
                        )}
                      </Table.Td>
                      <Table.Td ta="right" fz="sm" data-testid="retention-deleted-count">
                        {deleted}
                      </Table.Td>
                      <Table.Td ta="right" fz="sm">
                        {r.retainedCount}
                      </Table.Td>
                      <Table.Td fz="sm">{r.triggeredBy || '—'}</Table.Td>
                    </Table.Tr>
                    {expanded && (
                      <Table.Tr>
                        <Table.Td />
                        <Table.Td colSpan={7} style={{ whiteSpace: 'normal' }}>
                          <ExecutionDetails id={r.id} running={r.status === 'RUNNING'} />
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
      {data?.retentionExecutions.pageInfo.hasNextPage && (
        <Group justify="center" pb="sm">
          <Button variant="subtle" size="compact-sm" onClick={() => setFirst((f) => f + 10)} loading={fetching}>
            Show older runs
          </Button>
        </Group>
      )}
    </>
  );
}

/**
 * RetentionPanel is a project's tag retention policy: its rules and
 * schedule, runs on demand (dry or real), and the history of runs. Only
 * project admins edit and run it; other members read it.
 */
export function RetentionPanel({ project, canWrite }: { project: string; canWrite: boolean }) {
  const [{ data, fetching, error }, refetch] = useQuery({ query: RetentionPolicyDocument, variables: { project }, context: useState(CTX)[0] });
  const policy = data?.retentionPolicy;
  const [rules, setRules] = useState<RuleDraft[]>([]);
  const [schedule, setSchedule] = useState('');
  // Messages appear on the first save, then follow each change.
  const [checked, setChecked] = useState(false);
  const errors = checked ? validateRules(rules) : {};
  const [saveError, setSaveError] = useState<string | null>(null);
  const [runError, setRunError] = useState<string | null>(null);
  const [confirmRun, setConfirmRun] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [{ fetching: saving }, save] = useMutation(SetRetentionPolicyDocument);
  const [, remove] = useMutation(DeleteRetentionPolicyDocument);
  const [{ fetching: starting }, run] = useMutation(RunRetentionDocument);
  const [historyKey, setHistoryKey] = useState(0);
  const loaded = useRef<string | null>(null);

  // Start the editor from berth's policy each time it changes there.
  const stamp = data ? `${policy?.updatedAt ?? 'none'}` : null;
  useEffect(() => {
    if (stamp === null || stamp === loaded.current) return;
    loaded.current = stamp;
    setRules(draftsOf(policy));
    setSchedule(policy?.schedule ?? '');
    setChecked(false);
  }, [stamp, policy]);

  const readOnly = !canWrite;
  const submit = async () => {
    setSaveError(null);
    const errs = validateRules(rules);
    setChecked(true);
    if (Object.keys(errs).length) return;
    const r = await save({ project, input: { rules: ruleInputs(rules), schedule: schedule.trim() || null } }, QUIET);
    if (r.error) {
      setSaveError(errorMessage(r.error));
      return;
    }
    notifications.show({ color: 'teal', message: 'Retention policy saved.' });
  };
  const start = async (dryRun: boolean): Promise<boolean> => {
    setRunError(null);
    const r = await run({ project, dryRun }, QUIET);
    if (r.error) {
      setRunError(errorMessage(r.error));
      return true;
    }
    notifications.show({ color: 'teal', message: dryRun ? 'Retention dry run started.' : 'Retention run started.' });
    setHistoryKey((k) => k + 1);
    return true;
  };

  if (error && !data) return <ErrorState error={error} onRetry={() => refetch({ requestPolicy: 'network-only' })} />;
  if (fetching && !data) return <Skeleton h={200} />;

  return (
    <Stack gap="md">
      <Paper withBorder radius="md" p="md">
        <Group justify="space-between" align="flex-start" mb="sm">
          <div>
            <Title order={5}>Tag retention</Title>
            <Text fz="sm" c="dimmed">
              Artifacts selected by a rule are kept; the others of the selected repositories are deleted when the policy runs. With no rule, nothing is deleted.
            </Text>
          </div>
          {policy && (
            <Text fz="xs" c="dimmed" ta="right" style={{ whiteSpace: 'nowrap' }}>
              Changed <RelativeTime value={policy.updatedAt} fz="xs" />
              {policy.updatedBy ? ` by ${policy.updatedBy}` : ''}
            </Text>
          )}
        </Group>
        <Stack gap="sm">
          {rules.length === 0 && (
            <EmptyState title={policy ? 'No rules' : 'No retention policy'}>{canWrite ? 'Add a rule to say which artifacts to keep.' : 'Project admins can set one up.'}</EmptyState>
          )}
          {rules.map((r, i) => (
            <RuleEditor
              key={i}
              index={i}
              rule={r}
              errors={errors}
              readOnly={readOnly}
              onChange={(n) => setRules((rs) => rs.map((x, j) => (j === i ? n : x)))}
              onRemove={() => setRules((rs) => rs.filter((_, j) => j !== i))}
            />
          ))}
          {canWrite && (
            <Group>
              <Button variant="light" leftSection={<IconPlus size={16} />} onClick={() => setRules((rs) => [...rs, newRule()])} disabled={rules.length >= MAX_RULES} data-testid="retention-add-rule">
                Add rule
              </Button>
              <Text fz="xs" c="dimmed">
                {rules.length} of {MAX_RULES} rules
              </Text>
            </Group>
          )}
          {errors.rules && (
            <Text c="red" fz="sm">
              {errors.rules}
            </Text>
          )}
          <SimpleGrid cols={{ base: 1, sm: 2 }} mt="xs">
            <TextInput
              label="Schedule"
              description="A cron expression (0 3 * * *, @daily, @every 12h), UTC. Empty: runs only when asked."
              placeholder="manual"
              value={schedule}
              onChange={(e) => setSchedule(e.currentTarget.value)}
              readOnly={readOnly}
              styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
              data-testid="retention-schedule"
            />
            {policy?.schedule && policy.nextRunAt && (
              <Text fz="sm" c="dimmed" mt={28}>
                Next run <RelativeTime value={policy.nextRunAt} fz="sm" />
              </Text>
            )}
          </SimpleGrid>
          {saveError && (
            <Alert color="red" icon={<IconAlertTriangle size={18} />} title="Could not save the retention policy" role="alert" withCloseButton onClose={() => setSaveError(null)} data-testid="retention-save-error">
              {saveError}
            </Alert>
          )}
          {canWrite && (
            <Group justify="space-between">
              <Group gap="xs">
                <Button onClick={submit} loading={saving} data-testid="retention-save">
                  Save policy
                </Button>
                {policy && (
                  <Button color="red" variant="subtle" leftSection={<IconTrash size={16} />} onClick={() => setConfirmDelete(true)}>
                    Delete policy
                  </Button>
                )}
              </Group>
              <Group gap="xs">
                <Tooltip label={policy ? 'Lists what a run would delete; deletes nothing' : 'Save a policy first'}>
                  <Button variant="default" leftSection={<IconEye size={16} />} onClick={() => start(true)} loading={starting && !confirmRun} disabled={!policy} data-testid="retention-dry-run">
                    Dry run
                  </Button>
                </Tooltip>
                <Button color="red" variant="light" leftSection={<IconPlayerPlay size={16} />} onClick={() => setConfirmRun(true)} disabled={!policy || starting} data-testid="retention-run-now">
                  Run now
                </Button>
              </Group>
            </Group>
          )}
          {runError && (
            <Alert color="red" icon={<IconAlertTriangle size={18} />} title="Could not start retention" role="alert" withCloseButton onClose={() => setRunError(null)} data-testid="retention-run-error">
              {runError}
            </Alert>
          )}
        </Stack>
      </Paper>
      <Paper withBorder radius="md">
        <Group p="md" pb="xs" gap="xs">
          <Title order={5}>History</Title>
          {starting && <Loader size="xs" />}
        </Group>
        <RetentionHistory key={historyKey} project={project} />
      </Paper>
      <ConfirmDialog
        opened={confirmRun}
        onClose={() => setConfirmRun(false)}
        title="Run tag retention"
        confirmLabel="Run retention"
        onConfirm={() => start(false)}
      >
        <Text fz="sm">Delete, now, every artifact of {project} that the policy does not retain? This cannot be undone. A dry run shows what would go.</Text>
      </ConfirmDialog>
      <ConfirmDialog
        opened={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        title="Delete retention policy"
        confirmLabel="Delete policy"
        onConfirm={async () => {
          const r = await remove({ project }, CTX);
          if (r.error) return false;
          notifications.show({ color: 'teal', message: 'Retention policy deleted.' });
          loaded.current = null;
          refetch({ requestPolicy: 'network-only' });
          return true;
        }}
      >
        <Text fz="sm">Delete the retention policy of {project} and its schedule? Nothing is deleted from the project; runs stop.</Text>
      </ConfirmDialog>
    </Stack>
  );
}
