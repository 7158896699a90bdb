import { useState } from 'react';
import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { PermissionPicker, RobotsPanel } from './Robots';
import { fakeClient, renderWith } from '@/test/render';

function Picker({ initial = [] as string[], seen }: { initial?: string[]; seen: string[][] }) {
  const [v, setV] = useState(initial);
  return (
    <PermissionPicker
      value={v}
      onChange={(next) => {
        seen.push(next);
        setV(next);
      }}
    />
  );
}

describe('PermissionPicker', () => {
  it('offers one checkbox per valid pair and nothing else', () => {
    renderWith(<Picker seen={[]} />);
    const boxes = within(screen.getByTestId('permission-picker')).getAllByRole('checkbox');
    expect(boxes.map((b) => b.getAttribute('aria-label'))).toEqual([
      'Repository Pull',
      'Repository Push',
      'Repository Delete',
      'Artifact Read',
      'Artifact Delete',
      'Tag Create',
      'Tag Delete',
      'Artifact label Add & remove',
      'Scan Scan',
    ]);
  });

  it('reports the chosen pairs and asks for at least one', async () => {
    const seen: string[][] = [];
    renderWith(<Picker initial={['REPOSITORY:PULL']} seen={seen} />);
    await userEvent.click(screen.getByRole('checkbox', { name: 'Repository Push' }));
    expect(seen.at(-1)).toEqual(['REPOSITORY:PULL', 'REPOSITORY:PUSH']);
    await userEvent.click(screen.getByRole('checkbox', { name: 'Repository Pull' }));
    await userEvent.click(screen.getByRole('checkbox', { name: 'Repository Push' }));
    expect(seen.at(-1)).toEqual([]);
    expect(screen.getByText('Pick at least one permission.')).toBeInTheDocument();
  });
});

describe('RobotsPanel', () => {
  const robots = [
    {
      __typename: 'Robot',
      id: '7',
      name: 'ci',
      login: 'robot$team-a+ci',
      description: 'release pipeline',
      disabled: false,
      expired: true,
      expiresAt: '2020-01-01T00:00:00Z',
      lastUsedAt: null,
      createdAt: '2019-12-01T00:00:00Z',
      createdBy: 'alice',
      permissions: [{ project: 'team-a', resource: 'REPOSITORY', action: 'PULL' }],
    },
  ];

  it('shows robots read-only without robot:write', async () => {
    renderWith(<RobotsPanel project="team-a" canWrite={false} />, { client: fakeClient((name) => (name === 'Robots' ? { robots } : undefined)) });
    expect(await screen.findByText('robot$team-a+ci')).toBeInTheDocument();
    expect(screen.getByText('Expired')).toBeInTheDocument();
    expect(screen.getByText('Repository: Pull')).toBeInTheDocument();
    expect(screen.queryByTestId('new-robot')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Actions for/ })).not.toBeInTheDocument();
  });

  it('creates a robot with the picked permissions and shows the secret once', async () => {
    const calls: { name: string; variables: Record<string, unknown> }[] = [];
    const client = fakeClient((name) => {
      if (name === 'Robots') return { robots: [] };
      if (name === 'CreateRobot') return { createRobot: { login: 'robot$team-a+deploy', secret: 's3cr3t-value', robot: { __typename: 'Robot', id: '9', name: 'deploy' } } };
      return undefined;
    }, calls);
    renderWith(<RobotsPanel project="team-a" canWrite />, { client });
    await userEvent.click(await screen.findByTestId('new-robot'));
    const dialog = await screen.findByRole('dialog');
    await userEvent.type(within(dialog).getByRole('textbox', { name: /Name/ }), 'deploy');
    // The dialog shows the login the robot will get, with the server's prefix.
    within(dialog).getByText(/The login name will be robot\$team-a\+deploy\./);
    await userEvent.click(within(dialog).getByRole('checkbox', { name: 'Repository Push' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create robot' }));
    expect(calls.find((c) => c.name === 'CreateRobot')?.variables).toEqual({
      input: {
        name: 'deploy',
        project: 'team-a',
        description: '',
        // Left to the server's default expiry (--robot-expiry-days).
        expiresInDays: undefined,
        permissions: [
          { resource: 'REPOSITORY', action: 'PULL' },
          { resource: 'REPOSITORY', action: 'PUSH' },
        ],
      },
    });
    expect(await screen.findByTestId('robot-secret')).toHaveTextContent('s3cr3t-value');
    expect(screen.getByTestId('robot-login')).toHaveTextContent('robot$team-a+deploy');
    expect(screen.getByTestId('robot-docker-login')).toHaveTextContent("docker login registry.example.com -u 'robot$team-a+deploy' --password-stdin");
  }, 20_000);
});
