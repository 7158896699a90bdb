import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { ScannersPage, scannerNameError } from './Scanners';
import { fakeClient, renderWith } from '@/test/render';

// menuItem finds an open menu's item by its text: a role query walks the
// whole page's accessibility tree on every retry, which under a loaded CI
// machine took so long that the item appeared between its only tries.
async function menuItem(name: string) {
  const label = await screen.findByText(name, {}, { timeout: 5000 });
  const item = label.closest('[role="menuitem"]');
  expect(item).not.toBeNull();
  return item as HTMLElement;
}

type Call = { name: string; variables: Record<string, unknown> };

function scanner(over: Record<string, unknown> = {}) {
  return {
    name: 'trivy',
    description: 'Aqua’s adapter',
    scannerName: 'Trivy',
    vendor: 'Aqua Security',
    version: '0.50.1',
    default: false,
    disabled: false,
    url: 'http://trivy-adapter:8080',
    hasAuthorization: true,
    createdAt: '2025-06-15T12:00:00Z',
    updatedAt: '2025-06-15T12:00:00Z',
    ...over,
  };
}

function client(list: ReturnType<typeof scanner>[], calls: Call[] = [], mutate: (name: string, vars: Record<string, unknown>) => unknown = () => undefined) {
  return fakeClient((name, vars) => (name === 'Scanners' ? { scanners: list } : mutate(name, vars)), calls);
}

const mutations = (calls: Call[], name: string) => calls.filter((c) => c.name === name).map((c) => c.variables);

describe('ScannersPage', { timeout: 30_000 }, () => {
  it('lists the built-in scanner first, then the registrations', async () => {
    renderWith(<ScannersPage />, { client: client([scanner({ default: true }), scanner({ name: 'grype', scannerName: 'Grype', vendor: 'Anchore', version: '0.74', disabled: true, hasAuthorization: false })]) });
    await waitFor(() => expect(screen.getAllByTestId('scanner-row')).toHaveLength(3));
    const [builtIn, trivy, grype] = screen.getAllByTestId('scanner-row').map((r) => within(r));
    expect(builtIn.getByText('berth', { selector: 'p' })).toBeInTheDocument();
    expect(builtIn.getByText('Built-in')).toBeInTheDocument();
    expect(builtIn.queryByText('Default')).not.toBeInTheDocument();
    expect(trivy.getByText('Trivy 0.50.1')).toBeInTheDocument();
    expect(trivy.getByText('Aqua Security')).toBeInTheDocument();
    expect(trivy.getByText('http://trivy-adapter:8080')).toBeInTheDocument();
    expect(trivy.getByText('with authorization')).toBeInTheDocument();
    expect(trivy.getByText('Default')).toBeInTheDocument();
    expect(grype.getByText('Disabled')).toBeInTheDocument();
    expect(grype.queryByText('with authorization')).not.toBeInTheDocument();
  });

  it('makes the built-in scanner the default while no registration is', async () => {
    renderWith(<ScannersPage />, { client: client([]) });
    expect(await screen.findByTestId('scanners-empty')).toBeInTheDocument();
    const rows = screen.getAllByTestId('scanner-row');
    expect(rows).toHaveLength(1);
    expect(within(rows[0]).getByText('Default')).toBeInTheDocument();
  });

  it('registers an adapter with what was typed, and shows why berth refused it', async () => {
    const calls: Call[] = [];
    const refusal = new CombinedError({ graphQLErrors: [{ message: 'scanner adapter: GET http://trivy-adapter:8080/api/v1/metadata: connection refused', extensions: { code: 'BAD_USER_INPUT' } }] });
    renderWith(<ScannersPage />, { client: client([], calls, (name) => (name === 'RegisterScanner' ? refusal : undefined)) });
    await userEvent.click(await screen.findByTestId('scanner-register'));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('stored encrypted and never shown again');
    await userEvent.type(within(dialog).getByTestId('scanner-name'), 'trivy');
    await userEvent.type(within(dialog).getByTestId('scanner-url'), ' http://trivy-adapter:8080 ');
    await userEvent.type(within(dialog).getByTestId('scanner-authorization'), 'Bearer s3cret');
    await userEvent.click(within(dialog).getByTestId('scanner-register-submit'));
    expect(mutations(calls, 'RegisterScanner')).toEqual([{ input: { name: 'trivy', url: 'http://trivy-adapter:8080', authorization: 'Bearer s3cret' } }]);
    expect(await within(dialog).findByTestId('scanner-error')).toHaveTextContent('connection refused');
    expect(screen.getByRole('dialog')).toBeInTheDocument();
  });

  it('checks the name before sending', () => {
    expect(scannerNameError('trivy-0.50_a.b')).toBeNull();
    expect(scannerNameError('Trivy')).toMatch(/Lower-case/);
    expect(scannerNameError('berth')).toMatch(/built-in/);
    expect(scannerNameError('a'.repeat(41))).toMatch(/40/);
  });

  it('sends only what an edit changed, and keeps the authorization when left empty', async () => {
    const calls: Call[] = [];
    renderWith(<ScannersPage />, { client: client([scanner()], calls, (name) => (name === 'UpdateScanner' ? { updateScanner: scanner({ disabled: true }) } : undefined)) });
    await userEvent.click(await screen.findByRole('button', { name: 'Actions for trivy' }));
    await userEvent.click(await menuItem('Edit'));
    const dialog = await screen.findByRole('dialog');
    expect(within(dialog).getByTestId('scanner-url')).toHaveValue('http://trivy-adapter:8080');
    await userEvent.click(within(dialog).getByRole('switch', { name: /Disabled/ }));
    await userEvent.click(within(dialog).getByTestId('scanner-save'));
    expect(mutations(calls, 'UpdateScanner')).toEqual([{ input: { name: 'trivy', disabled: true } }]);
  });

  it('asks before deleting, saying where its projects go', async () => {
    const calls: Call[] = [];
    renderWith(<ScannersPage />, { client: client([scanner()], calls, (name) => (name === 'DeleteScanner' ? { deleteScanner: true } : undefined)) });
    await userEvent.click(await screen.findByRole('button', { name: 'Actions for trivy' }));
    await userEvent.click(await menuItem('Delete'));
    const dialog = await screen.findByRole('dialog');
    expect(dialog).toHaveTextContent('go back to the system default');
    expect(mutations(calls, 'DeleteScanner')).toEqual([]);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Delete scanner' }));
    expect(mutations(calls, 'DeleteScanner')).toEqual([{ name: 'trivy' }]);
  });

  it('sets a registration as the default, and the built-in scanner back', async () => {
    const calls: Call[] = [];
    renderWith(<ScannersPage />, { client: client([scanner(), scanner({ name: 'grype', default: true })], calls, () => ({ setDefaultScanner: true })) });
    await userEvent.click(await screen.findByRole('button', { name: 'Actions for trivy' }));
    await userEvent.click(await menuItem('Set as default'));
    // The first menu must be gone, or the next click only closes it.
    await waitFor(() => expect(screen.queryByRole('menu')).toBeNull(), { timeout: 5000 });
    await userEvent.click(screen.getByRole('button', { name: 'Actions for berth' }));
    await userEvent.click(await menuItem('Use built-in as default'));
    expect(mutations(calls, 'SetDefaultScanner')).toEqual([{ name: 'trivy' }, { name: null }]);
  });
});
