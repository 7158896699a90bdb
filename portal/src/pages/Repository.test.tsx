import { describe, expect, it } from 'vitest';
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { RepositoryPage } from './Repository';
import { LIVE_DEBOUNCE_MS } from '@/lib/live';
import { liveClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

function artifact(id: string, tags: { name: string; immutable: boolean }[]) {
  return {
    id,
    digest: `sha256:${id.repeat(64).slice(0, 64)}`,
    artifactType: 'IMAGE',
    size: 1024,
    pushedAt: '2025-06-15T12:00:00Z',
    pulledAt: null,
    tags: tags.map((t) => ({ id: `${id}-${t.name}`, ...t })),
    labels: [],
    scan: null as null | { status: string; severityCounts: { critical: number; high: number } },
  };
}

function repository(artifacts: ReturnType<typeof artifact>[]) {
  return {
    repository: {
      id: 'r1',
      name: 'library/app',
      description: '',
      pullCount: 0,
      pushedAt: '2025-06-15T12:00:00Z',
      createdAt: '2025-06-15T12:00:00Z',
      project: { id: 'p1', name: 'library', public: false, viewerPermissions: ['project:read'] },
      artifacts: {
        totalCount: artifacts.length,
        pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
        edges: artifacts.map((node) => ({ node })),
      },
    },
  };
}

describe('RepositoryPage', { timeout: 20_000 }, () => {
  it('marks immutable tags with a lock', async () => {
    const { client } = liveClient(() => repository([artifact('a', [{ name: 'v1.0', immutable: true }, { name: 'latest', immutable: false }])]));
    renderWith(<RepositoryPage name="library/app" />, { client });
    const badges = await screen.findAllByTestId('tag-badge');
    const [v1, latest] = badges;
    expect(v1).toHaveTextContent('v1.0');
    expect(within(v1).getByTestId('tag-immutable')).toBeInTheDocument();
    expect(within(latest).queryByTestId('tag-immutable')).not.toBeInTheDocument();
    await userEvent.hover(v1);
    expect(await screen.findByText('immutable')).toBeInTheDocument();
  });

  it('shows a pushed artifact as soon as berth reports the push', async () => {
    const calls: Call[] = [];
    let artifacts = [artifact('a', [{ name: 'v1', immutable: false }])];
    const { client, emit, subscriptions } = liveClient((name) => (name === 'RepositoryPage' ? repository(artifacts) : undefined), calls);
    renderWith(<RepositoryPage name="library/app" />, { client });
    expect(await screen.findByText('v1')).toBeInTheDocument();
    expect(subscriptions).toEqual([{ name: 'LiveContentEvents', variables: { project: 'library', types: ['PUSH_ARTIFACT', 'DELETE_ARTIFACT', 'TAG_CREATED', 'TAG_DELETED'] } }]);
    const reads = () => calls.filter((c) => c.name === 'RepositoryPage').length;
    const before = reads();

    // An event of another repository of the project changes nothing here.
    await act(async () => {
      emit({ events: { id: '1', type: 'PUSH_ARTIFACT', project: 'library', repository: 'library/other', digest: 'sha256:x', tags: ['v9'], occurredAt: '2025-06-15T12:01:00Z' } });
      await new Promise((r) => setTimeout(r, LIVE_DEBOUNCE_MS * 2));
    });
    expect(reads()).toBe(before);

    artifacts = [artifact('b', [{ name: 'v2', immutable: false }]), ...artifacts];
    // A push brings the artifact and its tag: one read for the burst.
    await act(async () => {
      emit({ events: { id: '2', type: 'PUSH_ARTIFACT', project: 'library', repository: 'library/app', digest: 'sha256:b', tags: [], occurredAt: '2025-06-15T12:02:00Z' } });
      emit({ events: { id: '3', type: 'TAG_CREATED', project: 'library', repository: 'library/app', digest: 'sha256:b', tags: ['v2'], occurredAt: '2025-06-15T12:02:00Z' } });
    });
    expect(await screen.findByText('v2')).toBeInTheDocument();
    await waitFor(() => expect(reads()).toBe(before + 1));
    expect(calls.filter((c) => c.name === 'RepositoryPage').at(-1)?.variables).toMatchObject({ name: 'library/app' });
  });

  it('shows the repository\'s security summary in its header, with a link to the project\'s Security tab', async () => {
    const calls: Call[] = [];
    const summary = {
      repository: {
        id: 'r1',
        securitySummary: { severityCounts: { critical: 1, high: 3, medium: 0, low: 2, unknown: 0 }, artifactCount: 4, scannedCount: 3 },
      },
    };
    const { client } = liveClient((name) => (name === 'RepositorySecuritySummary' ? summary : repository([artifact('a', [{ name: 'v1', immutable: false }])])), calls);
    renderWith(<RepositoryPage name="library/app" />, { client });
    const header = await screen.findByTestId('repository-security');
    expect(within(header).getByTestId('severity-critical')).toHaveTextContent('1 Critical');
    expect(within(header).getByTestId('severity-high')).toHaveTextContent('3 High');
    expect(within(header).getByTestId('severity-medium')).toHaveTextContent('0 Medium');
    expect(within(header).getByTestId('severity-low')).toHaveTextContent('2 Low');
    expect(within(header).getByTestId('repository-scanned')).toHaveTextContent('3 of 4 artifacts scanned');
    expect(within(header).getByTestId('repository-security-link')).toHaveAttribute('href', '/projects/library/security');
    // Its own query, by the repository's name, once: not per artifact.
    expect(calls.filter((c) => c.name === 'RepositorySecuritySummary')).toEqual([{ name: 'RepositorySecuritySummary', variables: { name: 'library/app' } }]);
  });

  it('shows no security summary for a repository without images', async () => {
    const summary = {
      repository: { id: 'r1', securitySummary: { severityCounts: { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 }, artifactCount: 0, scannedCount: 0 } },
    };
    const { client } = liveClient((name) => (name === 'RepositorySecuritySummary' ? summary : repository([artifact('a', [{ name: 'v1', immutable: false }])])));
    renderWith(<RepositoryPage name="library/app" />, { client });
    expect(await screen.findByText('v1')).toBeInTheDocument();
    expect(screen.queryByTestId('repository-security')).not.toBeInTheDocument();
  });

  it('sums up each image\'s latest scan by its critical and high findings', async () => {
    const scanned = artifact('a', [{ name: 'v1', immutable: false }]);
    scanned.scan = { status: 'SUCCESS', severityCounts: { critical: 2, high: 5 } };
    const clean = artifact('b', [{ name: 'v2', immutable: false }]);
    clean.scan = { status: 'SUCCESS', severityCounts: { critical: 0, high: 0 } };
    const { client } = liveClient(() => repository([scanned, clean, artifact('c', [{ name: 'v3', immutable: false }])]));
    renderWith(<RepositoryPage name="library/app" />, { client });
    const [worst, fine] = await screen.findAllByTestId('scan-summary');
    expect(worst).toHaveTextContent('2 critical5 high');
    expect(fine).toHaveTextContent('no critical or high');
    expect(screen.getByText('not scanned')).toBeInTheDocument();
  });
});
