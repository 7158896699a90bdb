import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { MAX_RULES, POLL_MS, RetentionPanel, describeRule, newRule, ruleInputs, validateRules } from './Retention';
import { fakeClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

const storedPolicy = {
  project: 'library',
  rules: [
    { repositories: { pattern: 'app/**', exclude: false }, tags: { pattern: 'dev-*', exclude: true }, untagged: false, template: 'LATEST_PUSHED', count: 5, days: null, disabled: false },
  ],
  schedule: '@daily',
  nextRunAt: '2099-01-01T00:00:00Z',
  updatedAt: '2025-06-15T12:00:00Z',
  updatedBy: 'alice',
};

function execution(over: Record<string, unknown> = {}) {
  return {
    id: 're1',
    status: 'SUCCEEDED',
    dryRun: true,
    triggeredBy: 'alice',
    startedAt: '2025-06-15T12:00:00Z',
    finishedAt: '2025-06-15T12:00:03Z',
    retainedCount: 5,
    repositories: [
      { repository: 'library/app', deleted: 2, retained: 5 },
      { repository: 'library/web', deleted: 1, retained: 0 },
    ],
    ...over,
  };
}

function client(calls: Call[], { policy = storedPolicy as unknown, runs = () => [execution()], mutate = () => undefined }: { policy?: unknown; runs?: () => unknown[]; mutate?: (name: string, vars: Record<string, unknown>) => unknown } = {}) {
  return fakeClient((name, vars) => {
    if (name === 'RetentionPolicy') return { retentionPolicy: policy };
    if (name === 'RetentionExecutions') return { retentionExecutions: { totalCount: runs().length, pageInfo: { hasNextPage: false, endCursor: null }, edges: runs().map((node) => ({ node })) } };
    if (name === 'RetentionExecution')
      return {
        retentionExecution: {
          id: vars.id,
          status: 'SUCCEEDED',
          log: 'selected 2 repositories',
          repositories: execution().repositories,
          deleted: [{ repository: 'library/app', digest: 'sha256:' + 'a'.repeat(64), tags: ['dev-1'], reason: 'not retained by any rule' }],
          retained: [{ repository: 'library/app', digest: 'sha256:' + 'b'.repeat(64), tags: ['v1'], reason: 'rule 1: latest 5 pushed' }],
        },
      };
    return mutate(name, vars);
  }, calls);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('retention rules', () => {
  it('describes, checks and converts rules', () => {
    expect(describeRule({ template: 'LATEST_PUSHED', count: 3, days: 0 })).toBe('retain the most recently pushed 3 artifacts');
    expect(describeRule({ template: 'PULLED_WITHIN_DAYS', count: 0, days: 7 })).toBe('retain the artifacts pulled within the last 7 days');
    const bad = { ...newRule(), repositories: { pattern: ' ', exclude: false }, template: 'PUSHED_WITHIN_DAYS' as const, days: '' };
    expect(validateRules([bad])).toEqual({ '0.repositories': 'Enter a pattern, such as ** for every repository.', '0.days': 'At least 1 day.' });
    expect(validateRules(Array.from({ length: MAX_RULES + 1 }, newRule)).rules).toBe('A policy holds at most 15 rules.');
    expect(ruleInputs([{ ...newRule(), template: 'ALWAYS', untagged: true }])).toEqual([
      { repositories: { pattern: '**', exclude: false }, tags: { pattern: '**', exclude: false }, untagged: true, template: 'ALWAYS', disabled: false },
    ]);
    expect(ruleInputs([newRule()])[0].count).toBe(10);
  });
});

describe('RetentionPanel', { timeout: 40_000 }, () => {
  it('shows the policy and history read-only to guests', async () => {
    renderWith(<RetentionPanel project="library" canWrite={false} />, { client: client([]) });
    const rule = await screen.findByTestId('retention-rule');
    expect(within(rule).getByLabelText('Repositories pattern')).toHaveValue('app/**');
    expect(within(rule).getByLabelText('Repositories pattern')).toHaveAttribute('readonly');
    expect(within(rule).getByLabelText('Tags pattern')).toHaveValue('dev-*');
    expect(screen.getByTestId('retention-schedule')).toHaveValue('@daily');
    expect(screen.queryByTestId('retention-save')).not.toBeInTheDocument();
    expect(screen.queryByTestId('retention-dry-run')).not.toBeInTheDocument();
    expect(screen.queryByTestId('retention-add-rule')).not.toBeInTheDocument();
    const run = await screen.findByTestId('retention-run');
    expect(within(run).getByText('Succeeded')).toBeInTheDocument();
    expect(within(run).getByText('Dry run')).toBeInTheDocument();
    expect(within(run).getByTestId('retention-deleted-count')).toHaveTextContent('3');
  });

  it('edits rules, checks them, and saves the policy', async () => {
    const calls: Call[] = [];
    renderWith(<RetentionPanel project="library" canWrite />, {
      client: client(calls, { policy: null, runs: () => [], mutate: (name, v) => (name === 'SetRetentionPolicy' ? { setRetentionPolicy: { ...storedPolicy, ...(v.input as object), nextRunAt: null, updatedAt: '2025-06-16T00:00:00Z' } } : undefined) }),
    });
    expect(await screen.findByText('No retention policy')).toBeInTheDocument();
    expect(screen.getByTestId('retention-dry-run')).toBeDisabled();
    await userEvent.click(screen.getByTestId('retention-add-rule'));
    const rule = screen.getByTestId('retention-rule');
    await userEvent.clear(within(rule).getByLabelText('Tags pattern'));
    await userEvent.clear(within(rule).getByLabelText('Count of rule 1'));
    await userEvent.click(screen.getByTestId('retention-save'));
    expect(within(rule).getByText('Enter a pattern, such as ** for every tag.')).toBeInTheDocument();
    expect(within(rule).getByText('Keep at least 1.')).toBeInTheDocument();
    expect(calls.some((c) => c.name === 'SetRetentionPolicy')).toBe(false);

    await userEvent.type(within(rule).getByLabelText('Tags pattern'), 'v*');
    await userEvent.type(within(rule).getByLabelText('Count of rule 1'), '3');
    await userEvent.click(within(rule).getByLabelText('Untagged in rule 1'));
    await userEvent.type(screen.getByTestId('retention-schedule'), '0 3 * * *');
    await userEvent.click(screen.getByTestId('retention-save'));
    expect(calls.filter((c) => c.name === 'SetRetentionPolicy').map((c) => c.variables)).toEqual([
      {
        project: 'library',
        input: {
          schedule: '0 3 * * *',
          rules: [{ repositories: { pattern: '**', exclude: false }, tags: { pattern: 'v*', exclude: false }, untagged: true, template: 'LATEST_PUSHED', count: 3, disabled: false }],
        },
      },
    ]);
  });

  it('allows at most 15 rules, and an empty schedule means manual', async () => {
    const calls: Call[] = [];
    const fourteen = { ...storedPolicy, schedule: null, rules: Array.from({ length: MAX_RULES - 1 }, () => storedPolicy.rules[0]) };
    renderWith(<RetentionPanel project="library" canWrite />, { client: client(calls, { policy: fourteen, runs: () => [], mutate: () => ({ setRetentionPolicy: storedPolicy }) }) });
    const add = await screen.findByTestId('retention-add-rule');
    expect(add).toBeEnabled();
    await userEvent.click(add);
    expect(screen.getAllByTestId('retention-rule')).toHaveLength(MAX_RULES);
    expect(add).toBeDisabled();
    await userEvent.click(screen.getByRole('button', { name: 'Remove rule 15' }));
    expect(add).toBeEnabled();
    await userEvent.click(screen.getByTestId('retention-save'));
    const input = calls.find((c) => c.name === 'SetRetentionPolicy')?.variables.input as { rules: unknown[]; schedule: unknown };
    expect(input.rules).toHaveLength(14);
    expect(input.schedule).toBeNull();
  });

  it('shows why berth did not save', async () => {
    renderWith(<RetentionPanel project="library" canWrite />, {
      client: client([], { mutate: () => new CombinedError({ graphQLErrors: [{ message: 'rule 1: invalid pattern "[": syntax error', extensions: { code: 'BAD_USER_INPUT' } }] }) }),
    });
    await userEvent.click(await screen.findByTestId('retention-save'));
    expect(await screen.findByTestId('retention-save-error')).toHaveTextContent('rule 1: invalid pattern "[": syntax error');
  });

  it('starts a dry run at once and a real run after a confirmation', async () => {
    const calls: Call[] = [];
    renderWith(<RetentionPanel project="library" canWrite />, { client: client(calls, { mutate: (name, v) => (name === 'RunRetention' ? { runRetention: { id: 're2', status: 'RUNNING', dryRun: v.dryRun, startedAt: '2025-06-16T00:00:00Z' } } : undefined) }) });
    await userEvent.click(await screen.findByTestId('retention-dry-run'));
    expect(calls.filter((c) => c.name === 'RunRetention').map((c) => c.variables)).toEqual([{ project: 'library', dryRun: true }]);
    await userEvent.click(screen.getByTestId('retention-run-now'));
    const dialog = await screen.findByRole('dialog');
    expect(calls.filter((c) => c.name === 'RunRetention')).toHaveLength(1);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Run retention' }));
    expect(calls.filter((c) => c.name === 'RunRetention').at(-1)?.variables).toEqual({ project: 'library', dryRun: false });
  });

  it('shows why a run could not start', async () => {
    renderWith(<RetentionPanel project="library" canWrite />, {
      client: client([], { mutate: () => new CombinedError({ graphQLErrors: [{ message: 'a retention run of library is already running', extensions: { code: 'CONFLICT' } }] }) }),
    });
    await userEvent.click(await screen.findByTestId('retention-dry-run'));
    expect(await screen.findByTestId('retention-run-error')).toHaveTextContent('a retention run of library is already running');
  });

  it('opens a run: counts per repository, what was deleted and what was kept, and why', async () => {
    renderWith(<RetentionPanel project="library" canWrite={false} />, { client: client([]) });
    await userEvent.click(await screen.findByRole('button', { name: 'Show run' }));
    const repos = await screen.findByTestId('retention-repositories');
    expect(within(repos).getByText('library/web')).toBeInTheDocument();
    const deleted = screen.getByTestId('retention-deleted');
    expect(within(deleted).getByText('dev-1')).toBeInTheDocument();
    expect(within(deleted).getByText('not retained by any rule')).toBeInTheDocument();
    const retained = screen.getByTestId('retention-retained');
    expect(within(retained).getByText('v1')).toBeInTheDocument();
    expect(within(retained).getByText('rule 1: latest 5 pushed')).toBeInTheDocument();
  });

  it('follows a running run until it ends', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const calls: Call[] = [];
    let state = execution({ status: 'RUNNING', finishedAt: null });
    renderWith(<RetentionPanel project="library" canWrite />, { client: client(calls, { runs: () => [state] }) });
    expect(await screen.findByText('Running')).toBeInTheDocument();
    const reads = () => calls.filter((c) => c.name === 'RetentionExecutions').length;
    const before = reads();
    await act(async () => {
      vi.advanceTimersByTime(POLL_MS);
    });
    expect(reads()).toBe(before + 1);
    state = execution();
    await act(async () => {
      vi.advanceTimersByTime(POLL_MS);
    });
    await waitFor(() => expect(screen.getByText('Succeeded')).toBeInTheDocument());
    const after = reads();
    await act(async () => {
      vi.advanceTimersByTime(3 * POLL_MS);
    });
    expect(reads()).toBe(after);
  });

  it('deletes the policy after a confirmation', async () => {
    const calls: Call[] = [];
    renderWith(<RetentionPanel project="library" canWrite />, { client: client(calls, { mutate: (name) => (name === 'DeleteRetentionPolicy' ? { deleteRetentionPolicy: true } : undefined) }) });
    await userEvent.click(await screen.findByRole('button', { name: 'Delete policy' }));
    const dialog = await screen.findByRole('dialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete policy' }));
    expect(calls.filter((c) => c.name === 'DeleteRetentionPolicy').map((c) => c.variables)).toEqual([{ project: 'library' }]);
  });
});
