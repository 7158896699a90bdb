import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { GlobalSearch } from './GlobalSearch';
import { fakeClient, renderWith } from '@/test/render';

describe('GlobalSearch', () => {
  it('finds projects, repositories and tagged artifacts as the user types', async () => {
    const calls: { name: string; variables: Record<string, unknown> }[] = [];
    const client = fakeClient(
      () => ({
        projects: { edges: [{ node: { id: 'p1', name: 'team-a', public: false, repositoryCount: 1 } }] },
        repositories: { edges: [{ node: { id: 'r1', name: 'team-a/app', pullCount: 3 } }] },
        searchArtifacts: [
          { artifact: { id: 'a1', digest: 'sha256:' + '1'.repeat(64), artifactType: 'IMAGE', tags: [{ name: 'v1' }] }, repository: { id: 'r1', name: 'team-a/app' }, tag: { name: 'v1' } },
        ],
      }),
      calls,
    );
    renderWith(<GlobalSearch />, { client });
    await userEvent.type(screen.getByTestId('global-search'), 'team-a/app:v1');
    expect(await screen.findByText('team-a/app:v1')).toBeInTheDocument();
    expect(screen.getByText('team-a')).toBeInTheDocument();
    expect(screen.getByText('Projects')).toBeInTheDocument();
    expect(screen.getByText('Artifacts')).toBeInTheDocument();
    const last = calls.filter((c) => c.name === 'GlobalSearch').at(-1)!;
    expect([last.variables.tag, last.variables.artifactRepository, last.variables.withArtifacts]).toEqual(['v1', 'team-a/app', true]);
  });
});
