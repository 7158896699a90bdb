import { afterEach, describe, expect, it, vi } from 'vitest';
import { act, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { Route, Routes } from 'react-router';
import { GarbageCollectionPage, POLL_MS } from './GarbageCollection';
import { Layout } from '@/components/Layout';
import { adminSession, fakeClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

function gc(over: Record<string, unknown> = {}) {
  return {
    id: 'gc1',
    status: 'SUCCEEDED',
    dryRun: false,
    deleteUntagged: false,
    triggeredBy: 'admin',
    startedAt: '2025-06-15T12:00:00Z',
    finishedAt: '2025-06-15T12:00:12Z',
    blobsDeleted: 3,
    bytesFreed: 5 * 1024 * 1024,
    artifactsDeleted: 0,
    log: 'marked 12 blobs\nswept 3 blobs (5 MiB)',
    ...over,
  };
}

function connection(nodes: ReturnType<typeof gc>[]) {
  return {
    garbageCollections: {
      totalCount: nodes.length,
      pageInfo: { hasNextPage: false, endCursor: null },
      edges: nodes.map((node) => ({ node })),
    },
  };
}

const storage = { systemInfo: { storedBytes: 3 * 1024 ** 3, storageBytesOnDisk: 4 * 1024 ** 3 } };

/** client answers the page's queries with runs() and the mutation with mutate(). */
function client(runs: () => ReturnType<typeof gc>[], calls: Call[] = [], mutate: (vars: Record<string, unknown>) => unknown = () => ({ runGarbageCollection: gc({ id: 'new', status: 'RUNNING', finishedAt: null }) })) {
  return fakeClient((name, vars) => {
    if (name === 'GarbageCollections') return connection(runs());
    if (name === 'GarbageCollectionStorage') return storage;
    if (name === 'RunGarbageCollection') return mutate(vars);
    return undefined;
  }, calls);
}

afterEach(() => {
  vi.useRealTimers();
});

// Rendering the whole page with Mantine takes seconds on a busy machine.
describe('GarbageCollectionPage', { timeout: 20_000 }, () => {
  it('shows the storage figures and the history, and opens a run’s log', async () => {
    renderWith(<GarbageCollectionPage />, {
      client: client(() => [
        gc({ id: 'gc2', status: 'FAILED', dryRun: true, deleteUntagged: true, triggeredBy: 'ops', blobsDeleted: 0, bytesFreed: 0, artifactsDeleted: 2, log: 'storage unreachable' }),
        gc(),
      ]),
    });
    expect(await screen.findByTestId('gc-stored')).toHaveTextContent('3 GiB');
    expect(screen.getByTestId('gc-on-disk')).toHaveTextContent('4 GiB');
    expect(screen.getByTestId('gc-last-run')).toHaveTextContent('0 B');

    const rows = screen.getAllByTestId('gc-row');
    expect(rows).toHaveLength(2);
    const [failed, ok] = rows.map((r) => within(r));
    expect(failed.getByText('Failed')).toBeInTheDocument();
    expect(failed.getByText('Dry run')).toBeInTheDocument();
    expect(failed.getByText('+ untagged')).toBeInTheDocument();
    expect(failed.getByText('ops')).toBeInTheDocument();
    expect(ok.getByText('Succeeded')).toBeInTheDocument();
    expect(ok.getByText('Real run')).toBeInTheDocument();
    expect(ok.getByText('12 s')).toBeInTheDocument();
    expect(ok.getByText('5 MiB')).toBeInTheDocument();
    expect(ok.getByText('admin')).toBeInTheDocument();
    expect(screen.getByText('2 of 2 runs')).toBeInTheDocument();

    expect(screen.queryByTestId('gc-log')).not.toBeInTheDocument();
    await userEvent.click(ok.getByRole('button', { name: 'Show log' }));
    expect(screen.getByTestId('gc-log')).toHaveTextContent(/marked 12 blobs\s+swept 3 blobs/);
    await userEvent.click(ok.getByRole('button', { name: 'Hide log' }));
    expect(screen.queryByTestId('gc-log')).not.toBeInTheDocument();
    // A click anywhere on the row opens it too.
    await userEvent.click(failed.getByText('ops'));
    expect(screen.getByTestId('gc-log')).toHaveTextContent('storage unreachable');
  });

  it('says what to do when nothing has run yet', async () => {
    renderWith(<GarbageCollectionPage />, { client: client(() => []) });
    expect(await screen.findByText('No garbage collection yet')).toBeInTheDocument();
    expect(screen.getByText('No runs')).toBeInTheDocument();
    expect(screen.getByTestId('gc-last-run')).toHaveTextContent('No run has finished yet');
  });

  it('starts a dry run right away, with untagged artifacts when asked', async () => {
    const calls: Call[] = [];
    renderWith(<GarbageCollectionPage />, { client: client(() => [], calls) });
    await userEvent.click(await screen.findByTestId('gc-dry-run'));
    expect(calls.filter((c) => c.name === 'RunGarbageCollection').map((c) => c.variables)).toEqual([{ input: { dryRun: true, deleteUntagged: false, wait: false } }]);

    await userEvent.click(screen.getByLabelText('Also delete untagged artifacts'));
    await userEvent.click(screen.getByTestId('gc-dry-run'));
    expect(calls.filter((c) => c.name === 'RunGarbageCollection').at(-1)?.variables).toEqual({ input: { dryRun: true, deleteUntagged: true, wait: false } });
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('asks before a real run', async () => {
    const calls: Call[] = [];
    renderWith(<GarbageCollectionPage />, { client: client(() => [], calls) });
    await userEvent.click(await screen.findByTestId('gc-run'));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('This cannot be undone');
    expect(calls.some((c) => c.name === 'RunGarbageCollection')).toBe(false);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Run garbage collection' }));
    expect(calls.filter((c) => c.name === 'RunGarbageCollection').map((c) => c.variables)).toEqual([{ input: { dryRun: false, deleteUntagged: false, wait: false } }]);
  });

  it('says clearly when a run is already going on', async () => {
    const conflict = new CombinedError({ graphQLErrors: [{ message: 'a garbage collection is already running', extensions: { code: 'CONFLICT' } }] });
    renderWith(<GarbageCollectionPage />, { client: client(() => [gc()], [], () => conflict) });
    await userEvent.click(await screen.findByTestId('gc-dry-run'));
    const alert = await screen.findByTestId('gc-error');
    expect(alert).toHaveTextContent('Could not start garbage collection');
    expect(alert).toHaveTextContent('A garbage collection is already running');
  });

  it('shows other errors as berth words them', async () => {
    const failure = new CombinedError({ graphQLErrors: [{ message: 'storage is read-only', extensions: { code: 'INTERNAL' } }] });
    renderWith(<GarbageCollectionPage />, { client: client(() => [], [], () => failure) });
    await userEvent.click(await screen.findByTestId('gc-dry-run'));
    expect(await screen.findByTestId('gc-error')).toHaveTextContent('storage is read-only');
  });

  it('follows a running run every 2 seconds until it ends', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const calls: Call[] = [];
    let state: ReturnType<typeof gc> = gc({ status: 'RUNNING', finishedAt: null, blobsDeleted: 0, bytesFreed: 0, log: '' });
    renderWith(<GarbageCollectionPage />, { client: client(() => [state], calls) });
    expect(await screen.findByText('Running')).toBeInTheDocument();
    expect(screen.getByTestId('gc-running')).toBeInTheDocument();
    expect(screen.getByTestId('gc-dry-run')).toBeDisabled();
    expect(screen.getByTestId('gc-run')).toBeDisabled();
    const lists = () => calls.filter((c) => c.name === 'GarbageCollections').length;
    const storageReads = () => calls.filter((c) => c.name === 'GarbageCollectionStorage').length;
    const before = lists();
    const storageBefore = storageReads();

    await act(async () => {
      vi.advanceTimersByTime(POLL_MS);
    });
    expect(lists()).toBe(before + 1);
    await act(async () => {
      vi.advanceTimersByTime(POLL_MS);
    });
    expect(lists()).toBe(before + 2);

    state = gc();
    await act(async () => {
      vi.advanceTimersByTime(POLL_MS);
    });
    expect(await screen.findByText('Succeeded')).toBeInTheDocument();
    expect(screen.queryByTestId('gc-running')).not.toBeInTheDocument();
    expect(screen.getByTestId('gc-dry-run')).toBeEnabled();
    // The storage figures are read again once the run has ended.
    expect(storageReads()).toBe(storageBefore + 1);
    const after = lists();
    await act(async () => {
      vi.advanceTimersByTime(3 * POLL_MS);
    });
    expect(lists()).toBe(after);
  });
});

describe('the navigation', { timeout: 20_000 }, () => {
  const page = (
    <Routes>
      <Route element={<Layout />}>
        <Route path="*" element={<div />} />
      </Route>
    </Routes>
  );

  it('links the page for system admins', () => {
    renderWith(page, { path: '/projects' });
    expect(screen.getByRole('link', { name: 'Garbage collection' })).toHaveAttribute('href', '/admin/garbage-collection');
  });

  it('hides it from other users', () => {
    renderWith(page, { path: '/projects', session: { ...adminSession, viewer: { ...adminSession.viewer!, admin: false } } });
    expect(screen.queryByRole('link', { name: 'Garbage collection' })).not.toBeInTheDocument();
  });
});
