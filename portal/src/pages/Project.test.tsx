import { describe, expect, it } from 'vitest';
import { act, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { ProjectPage } from './Project';
import type { ProjectTab } from '@/lib/routes';
import { liveClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

const ROLE_PERMISSIONS: Record<string, string[]> = {
  PROJECT_ADMIN: ['project:read', 'member:read', 'log:read', 'robot:read', 'policy:read', 'policy:write', 'webhook:read', 'webhook:write', 'project:update'],
  MAINTAINER: ['project:read', 'member:read', 'log:read', 'robot:read', 'policy:read', 'webhook:read'],
  GUEST: ['project:read', 'member:read', 'log:read', 'policy:read'],
  LIMITED_GUEST: ['project:read'],
};

function project(role: string, repositories: string[] = ['library/app']) {
  return {
    project: {
      id: 'p1',
      name: 'library',
      public: false,
      scanOnPush: false,
      description: '',
      repositoryCount: repositories.length,
      usedBytes: 0,
      quotaBytes: -1,
      createdAt: '2025-06-15T12:00:00Z',
      viewerRole: role,
      viewerPermissions: ROLE_PERMISSIONS[role],
      repositories: {
        totalCount: repositories.length,
        pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
        edges: repositories.map((name, i) => ({ node: { id: `r${i}`, name, pullCount: 0, pushedAt: null, artifactCount: 1 } })),
      },
    },
  };
}

function page(tab: 'repositories' | ProjectTab, role: string, calls: Call[] = [], repos: () => string[] = () => ['library/app']) {
  const live = liveClient((name) => (name === 'ProjectPage' || name === 'ProjectRepositories' ? project(role, repos()) : name === 'WebhookPolicies' ? { webhookPolicies: [] } : name === 'ImmutabilityRules' ? { immutabilityRules: [] } : name === 'UpdateProject' ? { updateProject: { id: 'p1', public: false, scanOnPush: true, description: '', quotaBytes: -1 } } : undefined), calls);
  renderWith(
    <Routes>
      <Route path="/projects/:project/*" element={<ProjectPage tab={tab} />} />
    </Routes>,
    { client: live.client, path: `/projects/library${tab === 'repositories' ? '' : `/${tab}`}` },
  );
  return live;
}

describe('ProjectPage', { timeout: 20_000 }, () => {
  it.each([
    ['PROJECT_ADMIN', true, true],
    ['MAINTAINER', true, true],
    ['GUEST', false, true],
    ['LIMITED_GUEST', false, false],
  ])('offers a %s the Webhooks tab: %s, the Policy tab: %s', async (role, webhooks, policy) => {
    page('repositories', role);
    await screen.findByRole('tab', { name: 'Repositories' });
    expect(Boolean(screen.queryByRole('tab', { name: 'Webhooks' }))).toBe(webhooks);
    expect(Boolean(screen.queryByRole('tab', { name: 'Policy' }))).toBe(policy);
  });

  it('shows the webhooks of the project to a maintainer, without editing', async () => {
    page('webhooks', 'MAINTAINER');
    expect(await screen.findByText('No webhooks')).toBeInTheDocument();
    expect(screen.queryByTestId('new-webhook')).not.toBeInTheDocument();
  });

  it('shows the policy tab with retention and immutability', async () => {
    const calls: Call[] = [];
    page('policy', 'PROJECT_ADMIN', calls);
    expect(await screen.findByText('Tag immutability')).toBeInTheDocument();
    expect(screen.getByTestId('new-immutability-rule')).toBeInTheDocument();
    expect(calls.some((c) => c.name === 'RetentionPolicy')).toBe(true);
  });

  it('lists a newly pushed repository without a reload', async () => {
    const calls: Call[] = [];
    let repos = ['library/app'];
    const { emit } = page('repositories', 'MAINTAINER', calls, () => repos);
    expect(await screen.findByRole('link', { name: 'app' })).toBeInTheDocument();
    repos = ['library/web', 'library/app'];
    await act(async () => {
      emit({ events: { id: '9', type: 'PUSH_ARTIFACT', project: 'library', repository: 'library/web', digest: 'sha256:x', tags: ['v1'], occurredAt: '2025-06-15T12:00:00Z' } });
    });
    expect(await screen.findByRole('link', { name: 'web' })).toBeInTheDocument();
    await waitFor(() => expect(screen.getAllByText(/2 repositories/).length).toBeGreaterThan(0));
  });

  it('turns scanning on push on in the settings', async () => {
    const calls: Call[] = [];
    page('settings', 'PROJECT_ADMIN', calls);
    await userEvent.click(await screen.findByRole('switch', { name: /Scan images on push/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Save changes' }));
    await waitFor(() => expect(calls.find((c) => c.name === 'UpdateProject')?.variables).toMatchObject({ name: 'library', input: { scanOnPush: true, public: false } }));
  });
});
