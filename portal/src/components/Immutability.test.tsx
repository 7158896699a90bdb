import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { ImmutabilityPanel } from './Immutability';
import { fakeClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

const rule = {
  id: 'ir1',
  project: 'library',
  repositories: { pattern: '**', exclude: false },
  tags: { pattern: 'v*', exclude: false },
  disabled: false,
  createdAt: '2025-06-15T12:00:00Z',
  updatedAt: '2025-06-15T12:00:00Z',
};

function client(calls: Call[], rules: unknown[] = [rule], mutate: (name: string, vars: Record<string, unknown>) => unknown = () => undefined) {
  return fakeClient((name, vars) => (name === 'ImmutabilityRules' ? { immutabilityRules: rules } : mutate(name, vars)), calls);
}

describe('ImmutabilityPanel', { timeout: 30_000 }, () => {
  it('lists rules read-only to guests', async () => {
    renderWith(<ImmutabilityPanel project="library" canWrite={false} />, { client: client([], [rule, { ...rule, id: 'ir2', repositories: { pattern: 'tmp/**', exclude: true }, disabled: true }]) });
    const rows = await screen.findAllByTestId('immutability-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByText('v*')).toBeInTheDocument();
    expect(within(rows[0]).getByText('Enabled')).toBeInTheDocument();
    expect(within(rows[1]).getByText('excluding')).toBeInTheDocument();
    expect(within(rows[1]).getByText('tmp/**')).toBeInTheDocument();
    expect(within(rows[1]).getByText('Disabled')).toBeInTheDocument();
    expect(screen.queryByTestId('new-immutability-rule')).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Edit immutability rule/ })).not.toBeInTheDocument();
  });

  it('adds a rule after checking it', async () => {
    const calls: Call[] = [];
    renderWith(<ImmutabilityPanel project="library" canWrite />, { client: client(calls, [], () => ({ createImmutabilityRule: { id: 'ir9' } })) });
    expect(await screen.findByText('No immutability rules')).toBeInTheDocument();
    await userEvent.click(screen.getByTestId('new-immutability-rule'));
    const dialog = await screen.findByRole('dialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add rule' }));
    expect(within(dialog).getByText('Enter a pattern, such as v* or release-*.')).toBeInTheDocument();
    expect(calls.some((c) => c.name === 'CreateImmutabilityRule')).toBe(false);
    await userEvent.type(within(dialog).getByLabelText('Tags pattern'), 'release-*');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Add rule' }));
    expect(calls.filter((c) => c.name === 'CreateImmutabilityRule').map((c) => c.variables)).toEqual([
      { project: 'library', input: { repositories: { pattern: '**', exclude: false }, tags: { pattern: 'release-*', exclude: false }, disabled: false } },
    ]);
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
  });

  it('edits a rule, and shows berth’s refusal', async () => {
    const calls: Call[] = [];
    renderWith(<ImmutabilityPanel project="library" canWrite />, {
      client: client(calls, [rule], (name) => (name === 'UpdateImmutabilityRule' ? new CombinedError({ graphQLErrors: [{ message: 'invalid pattern "v[": syntax error', extensions: { code: 'BAD_USER_INPUT' } }] }) : undefined)),
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Edit immutability rule 1' }));
    const dialog = await screen.findByRole('dialog');
    const tags = within(dialog).getByLabelText('Tags pattern');
    expect(tags).toHaveValue('v*');
    await userEvent.clear(tags);
    await userEvent.type(tags, 'v[[');
    await userEvent.click(within(dialog).getByRole('switch', { name: 'Disabled' }));
    await userEvent.click(within(dialog).getByRole('button', { name: 'Save rule' }));
    expect(calls.filter((c) => c.name === 'UpdateImmutabilityRule').map((c) => c.variables)).toEqual([
      { id: 'ir1', input: { repositories: { pattern: '**', exclude: false }, tags: { pattern: 'v[', exclude: false }, disabled: true } },
    ]);
    expect(await within(dialog).findByTestId('immutability-form-error')).toHaveTextContent('invalid pattern "v[": syntax error');
  });

  it('deletes a rule after a confirmation', async () => {
    const calls: Call[] = [];
    renderWith(<ImmutabilityPanel project="library" canWrite />, { client: client(calls, [rule], () => ({ deleteImmutabilityRule: 'ir1' })) });
    await userEvent.click(await screen.findByRole('button', { name: 'Delete immutability rule 1' }));
    const dialog = await screen.findByRole('dialog');
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete rule' }));
    expect(calls.filter((c) => c.name === 'DeleteImmutabilityRule').map((c) => c.variables)).toEqual([{ id: 'ir1' }]);
  });
});
