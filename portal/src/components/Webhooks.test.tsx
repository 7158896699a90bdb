import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { WebhooksPanel, targetInputs, validatePolicy } from './Webhooks';
import { fakeClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

function policy(over: Record<string, unknown> = {}) {
  return {
    id: 'wp1',
    project: 'library',
    name: 'ci',
    description: 'Tells CI about pushes',
    eventTypes: ['PUSH_ARTIFACT', 'TAG_DELETED'],
    targets: [{ url: 'https://ci.example.com/hook', hasAuthHeader: true, skipTLSVerify: false, format: 'JSON' }],
    enabled: true,
    createdBy: 'admin',
    createdAt: '2025-06-15T12:00:00Z',
    updatedAt: '2025-06-15T12:00:00Z',
    lastDelivery: { id: 'd1', statusCode: 200, succeeded: true, error: '', createdAt: '2025-06-15T12:10:00Z' },
    ...over,
  };
}

function delivery(over: Record<string, unknown> = {}) {
  return {
    id: 'd1',
    eventType: 'PUSH_ARTIFACT',
    eventID: 12,
    targetURL: 'https://ci.example.com/hook',
    format: 'JSON',
    attempt: 1,
    statusCode: 200,
    latencyMs: 34,
    error: '',
    responseBody: '{"ok":true}',
    succeeded: true,
    test: false,
    createdAt: '2025-06-15T12:10:00Z',
    ...over,
  };
}

function client(calls: Call[] = [], { policies = [policy()], mutate = () => undefined }: { policies?: unknown[]; mutate?: (name: string, vars: Record<string, unknown>) => unknown } = {}) {
  return fakeClient((name, vars) => {
    if (name === 'WebhookPolicies') return { webhookPolicies: policies };
    if (name === 'WebhookDeliveries')
      return {
        webhookDeliveries: {
          totalCount: 2,
          pageInfo: { hasNextPage: false, endCursor: null },
          edges: [{ node: delivery() }, { node: delivery({ id: 'd2', statusCode: 0, succeeded: false, error: 'dial tcp: connection refused', responseBody: '', latencyMs: 3001, attempt: 2, test: true }) }],
        },
      };
    return mutate(name, vars);
  }, calls);
}

describe('validatePolicy and targetInputs', () => {
  it('wants a name, an event and http(s) targets', () => {
    expect(validatePolicy({ name: ' ', description: '', eventTypes: [], targets: [{ url: 'ftp://x', authHeader: '', hadAuthHeader: false, skipTLSVerify: false, format: 'JSON' }], enabled: true })).toEqual({
      name: 'Give the webhook a name.',
      eventTypes: 'Pick at least one event.',
      'target.0': 'Enter an http:// or https:// URL.',
    });
    expect(validatePolicy({ name: 'a', description: '', eventTypes: ['PUSH_ARTIFACT'], targets: [], enabled: true })).toEqual({ targets: 'Add at least one target.' });
  });

  it('sends an auth header only when one was typed', () => {
    expect(
      targetInputs([
        { url: ' https://a.example.com ', authHeader: '', hadAuthHeader: true, skipTLSVerify: true, format: 'SLACK' },
        { url: 'https://b.example.com', authHeader: 'Bearer x', hadAuthHeader: false, skipTLSVerify: false, format: 'JSON' },
      ]),
    ).toEqual([
      { url: 'https://a.example.com', skipTLSVerify: true, format: 'SLACK' },
      { url: 'https://b.example.com', skipTLSVerify: false, format: 'JSON', authHeader: 'Bearer x' },
    ]);
  });
});

describe('WebhooksPanel', { timeout: 40_000 }, () => {
  it('shows policies read-only to maintainers', async () => {
    renderWith(<WebhooksPanel project="library" canWrite={false} />, { client: client() });
    const row = await screen.findByTestId('webhook-row');
    expect(within(row).getByText('ci')).toBeInTheDocument();
    expect(within(row).getByText('Artifact pushed')).toBeInTheDocument();
    expect(within(row).getByText('Tag deleted')).toBeInTheDocument();
    expect(within(row).getByText('https://ci.example.com/hook')).toBeInTheDocument();
    expect(within(row).getByText('auth')).toBeInTheDocument();
    expect(within(row).getByText('HTTP 200')).toBeInTheDocument();
    expect(within(row).getByText('Enabled')).toBeInTheDocument();
    expect(screen.queryByTestId('new-webhook')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Test ci' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Edit ci' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Delete ci' })).not.toBeInTheDocument();
  });

  it('creates a policy after checking the form, then shows its secret once', async () => {
    const calls: Call[] = [];
    renderWith(<WebhooksPanel project="library" canWrite />, {
      client: client(calls, { policies: [], mutate: (name) => (name === 'CreateWebhookPolicy' ? { createWebhookPolicy: { secret: 's3cr3t-hmac-key', policy: { id: 'wp9', name: 'deploy' } } } : undefined) }),
    });
    expect(await screen.findByText('No webhooks')).toBeInTheDocument();
    await userEvent.click(screen.getByTestId('new-webhook'));
    const dialog = await screen.findByRole('dialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create webhook' }));
    expect(within(dialog).getByText('Give the webhook a name.')).toBeInTheDocument();
    expect(within(dialog).getByText('Enter an http:// or https:// URL.')).toBeInTheDocument();
    expect(calls.some((c) => c.name === 'CreateWebhookPolicy')).toBe(false);

    await userEvent.type(within(dialog).getByRole('textbox', { name: /Name/ }), 'deploy');
    await userEvent.type(within(dialog).getByLabelText('URL of target 1'), 'https://deploy.example.com/hook');
    await userEvent.type(within(dialog).getByLabelText('Authorization header of target 1'), 'Bearer abc');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add target' }));
    await userEvent.type(within(dialog).getByLabelText('URL of target 2'), 'http://chat.example.com/x');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create webhook' }));

    const created = calls.filter((c) => c.name === 'CreateWebhookPolicy');
    expect(created.map((c) => c.variables)).toEqual([
      {
        project: 'library',
        input: {
          name: 'deploy',
          description: '',
          eventTypes: ['PUSH_ARTIFACT'],
          enabled: true,
          targets: [
            { url: 'https://deploy.example.com/hook', skipTLSVerify: false, format: 'JSON', authHeader: 'Bearer abc' },
            { url: 'http://chat.example.com/x', skipTLSVerify: false, format: 'JSON' },
          ],
        },
      },
    ]);
    const secret = await screen.findByTestId('webhook-secret');
    expect(secret).toHaveTextContent('s3cr3t-hmac-key');
    expect(within(secret).getByRole('button', { name: 'Copy secret' })).toBeInTheDocument();
    expect(screen.getByText(/never show it again/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Done' }));
    await waitFor(() => expect(screen.queryByTestId('webhook-secret')).not.toBeInTheDocument());
  });

  it('shows berth’s refusal in the dialog', async () => {
    renderWith(<WebhooksPanel project="library" canWrite />, {
      client: client([], { policies: [], mutate: () => new CombinedError({ graphQLErrors: [{ message: 'a webhook named deploy exists', extensions: { code: 'CONFLICT' } }] }) }),
    });
    await userEvent.click(await screen.findByTestId('new-webhook'));
    const dialog = await screen.findByRole('dialog');
    await userEvent.type(within(dialog).getByRole('textbox', { name: /Name/ }), 'deploy');
    await userEvent.type(within(dialog).getByLabelText('URL of target 1'), 'https://deploy.example.com/hook');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Create webhook' }));
    expect(await within(dialog).findByTestId('webhook-form-error')).toHaveTextContent('a webhook named deploy exists');
    expect(screen.queryByTestId('webhook-secret')).not.toBeInTheDocument();
  });

  it('edits a policy, keeping the stored auth header unless a new one is typed', async () => {
    const calls: Call[] = [];
    renderWith(<WebhooksPanel project="library" canWrite />, { client: client(calls, { mutate: (name, v) => (name === 'UpdateWebhookPolicy' ? { updateWebhookPolicy: { ...policy(), id: v.id } } : undefined) }) });
    await userEvent.click(await screen.findByRole('button', { name: 'Edit ci' }));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByLabelText('URL of target 1')).toHaveValue('https://ci.example.com/hook');
    expect(within(dialog).getByText('A header is set; leave empty to keep it.')).toBeInTheDocument();
    await userEvent.clear(within(dialog).getByRole('textbox', { name: /Description/ }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save webhook' }));
    expect(calls.filter((c) => c.name === 'UpdateWebhookPolicy').map((c) => c.variables)).toEqual([
      {
        id: 'wp1',
        input: { name: 'ci', description: '', eventTypes: ['PUSH_ARTIFACT', 'TAG_DELETED'], enabled: true, targets: [{ url: 'https://ci.example.com/hook', skipTLSVerify: false, format: 'JSON' }] },
      },
    ]);
  });

  it('disables and enables a policy from its row', async () => {
    const calls: Call[] = [];
    renderWith(<WebhooksPanel project="library" canWrite />, { client: client(calls, { mutate: (name, v) => (name === 'UpdateWebhookPolicy' ? { updateWebhookPolicy: { ...policy(), id: v.id, enabled: false } } : undefined) }) });
    await userEvent.click(await screen.findByRole('switch', { name: 'Enable ci' }));
    expect(calls.filter((c) => c.name === 'UpdateWebhookPolicy').map((c) => c.variables)).toEqual([{ id: 'wp1', input: { enabled: false } }]);
  });

  it('tests a policy and shows the status', async () => {
    const calls: Call[] = [];
    let answer: unknown = { testWebhook: { id: 'd5', targetURL: 'https://ci.example.com/hook', statusCode: 204, latencyMs: 12, succeeded: true, error: '', createdAt: '2025-06-15T12:00:00Z' } };
    renderWith(<WebhooksPanel project="library" canWrite />, { client: client(calls, { mutate: (name) => (name === 'TestWebhook' ? answer : undefined) }) });
    await userEvent.click(await screen.findByRole('button', { name: 'Test ci' }));
    expect(calls.filter((c) => c.name === 'TestWebhook').map((c) => c.variables)).toEqual([{ id: 'wp1' }]);
    const result = await screen.findByTestId('webhook-test-result');
    expect(result).toHaveTextContent('Test of ci delivered');
    expect(result).toHaveTextContent('https://ci.example.com/hook answered HTTP 204 in 12 ms.');
    // The delivery log opens to show the new attempt.
    expect(await screen.findByTestId('delivery-log')).toBeInTheDocument();

    answer = { testWebhook: { id: 'd6', targetURL: 'https://ci.example.com/hook', statusCode: 0, latencyMs: 5000, succeeded: false, error: 'timeout', createdAt: '2025-06-15T12:00:00Z' } };
    await userEvent.click(screen.getByRole('button', { name: 'Test ci' }));
    await waitFor(() => expect(screen.getByTestId('webhook-test-result')).toHaveTextContent('Test of ci failed'));
    expect(screen.getByTestId('webhook-test-result')).toHaveTextContent('answered nothing in 5000 ms: timeout');
  });

  it('shows the delivery log with each response body', async () => {
    renderWith(<WebhooksPanel project="library" canWrite={false} />, { client: client() });
    await userEvent.click(await screen.findByRole('button', { name: 'Show deliveries of ci' }));
    const rows = await screen.findAllByTestId('delivery-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByText('HTTP 200')).toBeInTheDocument();
    expect(within(rows[0]).getByText('34 ms')).toBeInTheDocument();
    expect(within(rows[1]).getByText('No response')).toBeInTheDocument();
    expect(within(rows[1]).getByText('dial tcp: connection refused')).toBeInTheDocument();
    expect(within(rows[1]).getByText('test')).toBeInTheDocument();
    expect(within(rows[1]).getByText('2')).toBeInTheDocument();
    await userEvent.click(within(rows[0]).getByRole('button', { name: 'Response of delivery d1' }));
    expect(await screen.findByTestId('delivery-response')).toHaveTextContent('{"ok":true}');
  });

  it('deletes a policy after a confirmation', async () => {
    const calls: Call[] = [];
    renderWith(<WebhooksPanel project="library" canWrite />, { client: client(calls, { mutate: (name) => (name === 'DeleteWebhookPolicy' ? { deleteWebhookPolicy: 'wp1' } : undefined) }) });
    await userEvent.click(await screen.findByRole('button', { name: 'Delete ci' }));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('Delete the webhook ci');
    expect(calls.some((c) => c.name === 'DeleteWebhookPolicy')).toBe(false);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete webhook' }));
    expect(calls.filter((c) => c.name === 'DeleteWebhookPolicy').map((c) => c.variables)).toEqual([{ id: 'wp1' }]);
  });
});
