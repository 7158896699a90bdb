import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { Route, Routes } from 'react-router';
import { JobsPage } from './Jobs';
import { Layout } from '@/components/Layout';
import { adminSession, fakeClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

function job(over: Record<string, unknown> = {}) {
  return {
    id: '41',
    kind: 'garbage_collection',
    state: 'COMPLETED',
    queue: 'default',
    attempt: 1,
    maxAttempts: 3,
    args: { dryRun: true, deleteUntagged: false },
    createdAt: '2025-06-15T12:00:00Z',
    scheduledAt: '2025-06-15T12:00:00Z',
    startedAt: '2025-06-15T12:00:01Z',
    finishedAt: '2025-06-15T12:00:09Z',
    errors: [] as { attempt: number; at: string; error: string }[],
    ...over,
  };
}

function page(nodes: ReturnType<typeof job>[], endCursor: string | null = null) {
  return { jobs: { endCursor, hasNextPage: endCursor !== null, edges: nodes.map((node) => ({ cursor: node.id, node })) } };
}

function schedules(list: Record<string, unknown>[] = []) {
  return { schedules: list };
}

function client({
  jobs = () => page([job()]),
  sched = () => schedules(),
  mutate = () => undefined,
  calls = [],
}: {
  jobs?: (vars: Record<string, unknown>) => unknown;
  sched?: () => unknown;
  mutate?: (name: string, vars: Record<string, unknown>) => unknown;
  calls?: Call[];
} = {}) {
  return fakeClient((name, vars) => {
    if (name === 'Jobs') return jobs(vars);
    if (name === 'Schedules') return sched();
    return mutate(name, vars);
  }, calls);
}

describe('JobsPage', { timeout: 20_000 }, () => {
  it('lists jobs with state, attempts and last error, and opens a job’s arguments and errors', async () => {
    renderWith(<JobsPage />, {
      client: client({
        jobs: () =>
          page([
            job({ id: '42', kind: 'webhook_delivery', state: 'RETRYABLE', attempt: 2, maxAttempts: 5, finishedAt: null, args: { policyId: 7, url: 'https://hooks.example.com' }, errors: [{ attempt: 1, at: '2025-06-15T12:01:00Z', error: 'connection refused' }, { attempt: 2, at: '2025-06-15T12:02:00Z', error: 'HTTP 502' }] }),
            job(),
          ]),
      }),
    });
    const rows = await screen.findAllByTestId('job-row');
    expect(rows).toHaveLength(2);
    const retrying = within(rows[0]);
    expect(retrying.getByText('webhook_delivery')).toBeInTheDocument();
    expect(retrying.getByText('Retryable')).toBeInTheDocument();
    expect(retrying.getByText('2/5')).toBeInTheDocument();
    expect(retrying.getByText('HTTP 502')).toBeInTheDocument();
    // Unfinished and failed: both cancel and retry; a completed job: retry only.
    expect(retrying.getByRole('button', { name: 'Cancel' })).toBeInTheDocument();
    expect(retrying.getByRole('button', { name: 'Retry' })).toBeInTheDocument();
    expect(within(rows[1]).queryByRole('button', { name: 'Cancel' })).not.toBeInTheDocument();
    expect(within(rows[1]).getByRole('button', { name: 'Retry' })).toBeInTheDocument();

    await userEvent.click(retrying.getByRole('button', { name: 'Show details' }));
    expect(screen.getByTestId('job-args')).toHaveTextContent('"url": "https://hooks.example.com"');
    expect(within(screen.getByTestId('job-errors')).getByText('connection refused')).toBeInTheDocument();
  });

  it('filters by state and kind', async () => {
    const calls: Call[] = [];
    renderWith(<JobsPage />, { client: client({ calls }) });
    await screen.findAllByTestId('job-row');
    await userEvent.click(screen.getByTestId('jobs-state'));
    await userEvent.click(await screen.findByRole('option', { name: 'Running', hidden: true }));
    await waitFor(() => expect(calls.filter((c) => c.name === 'Jobs').at(-1)?.variables.where).toEqual({ state: 'RUNNING' }));
    await userEvent.type(screen.getByTestId('jobs-kind'), 'retention');
    await waitFor(() => expect(calls.filter((c) => c.name === 'Jobs').at(-1)?.variables.where).toEqual({ kind: 'retention', state: 'RUNNING' }));
  });

  it('loads more with the end cursor', async () => {
    const calls: Call[] = [];
    renderWith(<JobsPage />, {
      client: client({ calls, jobs: (v) => (v.after ? page([job({ id: '10', kind: 'audit_purge' })]) : page([job()], 'cursor-1')) }),
    });
    await userEvent.click(await screen.findByTestId('jobs-more'));
    expect(await within(screen.getByTestId('jobs-table')).findByText('audit_purge')).toBeInTheDocument();
    expect(screen.getAllByTestId('job-row')).toHaveLength(2);
    expect(calls.filter((c) => c.name === 'Jobs').map((c) => c.variables.after)).toContain('cursor-1');
    expect(screen.queryByTestId('jobs-more')).not.toBeInTheDocument();
  });

  it('cancels and retries, and shows why berth refused', async () => {
    const calls: Call[] = [];
    renderWith(<JobsPage />, {
      client: client({
        calls,
        jobs: () => page([job({ id: '5', state: 'RUNNING', finishedAt: null }), job({ id: '6', state: 'DISCARDED' })]),
        mutate: (name) => {
          if (name === 'CancelJob') return { cancelJob: { id: '5', state: 'CANCELLED', finishedAt: '2025-06-15T12:05:00Z' } };
          if (name === 'RetryJob') return new CombinedError({ graphQLErrors: [{ message: 'job 6 is still running', extensions: { code: 'CONFLICT' } }] });
          return undefined;
        },
      }),
    });
    const [running, discarded] = await screen.findAllByTestId('job-row');
    await userEvent.click(within(running).getByRole('button', { name: 'Cancel' }));
    expect(calls.filter((c) => c.name === 'CancelJob').map((c) => c.variables)).toEqual([{ id: '5' }]);
    await userEvent.click(within(discarded).getByRole('button', { name: 'Retry' }));
    expect(calls.filter((c) => c.name === 'RetryJob').map((c) => c.variables)).toEqual([{ id: '6' }]);
    expect(await screen.findByTestId('job-error')).toHaveTextContent('Could not retry job 6 (garbage_collection): job 6 is still running');
  });

  it('edits a schedule and shows berth’s message about a bad cron inline', async () => {
    const calls: Call[] = [];
    renderWith(<JobsPage />, {
      client: client({
        calls,
        sched: () => schedules([{ kind: 'RETENTION', project: 'library', cron: '@daily', enabled: true, nextRunAt: '2099-01-01T00:00:00Z', updatedAt: '2025-06-15T12:00:00Z', updatedBy: 'alice' }]),
        mutate: (name, vars) => {
          if (name !== 'UpdateSchedule') return undefined;
          const input = vars.input as { cron: string };
          if (input.cron === 'every day') return new CombinedError({ graphQLErrors: [{ message: 'invalid cron expression "every day": expected 5 fields', extensions: { code: 'BAD_USER_INPUT' } }] });
          return { updateSchedule: { ...input, nextRunAt: null, updatedAt: '2025-06-15T12:00:00Z', updatedBy: 'admin' } };
        },
      }),
    });
    const rows = await screen.findAllByTestId('schedule-row');
    // Garbage collection is offered even before it has a schedule.
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByText('Garbage collection')).toBeInTheDocument();
    expect(within(rows[0]).getByText('not scheduled')).toBeInTheDocument();
    expect(within(rows[1]).getByText('library')).toBeInTheDocument();
    expect(within(rows[1]).getByText('@daily')).toBeInTheDocument();

    await userEvent.click(within(rows[0]).getByRole('button', { name: 'Edit schedule of Garbage collection' }));
    const cron = await screen.findByTestId('schedule-cron');
    await userEvent.clear(cron);
    await userEvent.click(screen.getByTestId('schedule-save'));
    expect(await screen.findByText(/Enter a cron expression/)).toBeInTheDocument();
    expect(calls.some((c) => c.name === 'UpdateSchedule')).toBe(false);

    await userEvent.type(cron, 'every day');
    await userEvent.click(screen.getByTestId('schedule-save'));
    expect(await screen.findByText('invalid cron expression "every day": expected 5 fields')).toBeInTheDocument();
    expect(screen.getByRole('dialog')).toBeInTheDocument();

    await userEvent.clear(cron);
    await userEvent.type(cron, '0 3 * * 0');
    await userEvent.click(screen.getByTestId('schedule-enabled'));
    await userEvent.click(screen.getByTestId('schedule-save'));
    expect(calls.filter((c) => c.name === 'UpdateSchedule').at(-1)?.variables).toEqual({ input: { kind: 'GARBAGE_COLLECTION', project: undefined, cron: '0 3 * * 0', enabled: false } });
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('says when there are no jobs', async () => {
    renderWith(<JobsPage />, { client: client({ jobs: () => page([]) }) });
    expect(await screen.findByText('No jobs yet')).toBeInTheDocument();
  });
});

describe('the Jobs navigation entry', { timeout: 20_000 }, () => {
  const layout = (
    <Routes>
      <Route element={<Layout />}>
        <Route path="*" element={<div />} />
      </Route>
    </Routes>
  );
  it('is there for system admins only', () => {
    const { unmount } = renderWith(layout, { path: '/projects' });
    expect(screen.getByRole('link', { name: 'Jobs' })).toHaveAttribute('href', '/admin/jobs');
    unmount();
    renderWith(layout, { path: '/projects', session: { ...adminSession, viewer: { ...adminSession.viewer!, admin: false } } });
    expect(screen.queryByRole('link', { name: 'Jobs' })).not.toBeInTheDocument();
  });
});
