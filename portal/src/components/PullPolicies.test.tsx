import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CombinedError } from 'urql';
import { PullPoliciesPanel, allowlistIdError, splitPEM } from './PullPolicies';
import { fakeClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

const KEY = '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';

const project = {
  id: 'p1',
  preventVulnerable: { enabled: true, severity: 'HIGH', allowUnscanned: false },
  requireSignature: { enabled: true, cosignPublicKeys: [`${KEY}\n`], notationCertificates: [] },
  cveAllowlist: {
    project: 'library',
    entries: [
      { cve: 'CVE-2024-1111', expiresAt: null, expired: false },
      { cve: 'GHSA-aaaa-bbbb-cccc', expiresAt: '2020-01-01T00:00:00Z', expired: true },
    ],
    updatedAt: '2025-06-15T12:00:00Z',
    updatedBy: 'admin',
  },
};

const system = { project: null, entries: [{ cve: 'CVE-2023-9999', expiresAt: null, expired: false }], updatedAt: null, updatedBy: null };

function client(calls: Call[], mutate: (name: string, vars: Record<string, unknown>) => unknown = () => undefined, systemList: unknown = { cveAllowlist: system }) {
  return fakeClient((name, vars) => (name === 'PullPolicies' ? { project } : name === 'SystemCVEAllowlist' ? systemList : mutate(name, vars)), calls);
}

const mutations = (calls: Call[], name: string) => calls.filter((c) => c.name === name).map((c) => c.variables);

describe('PullPoliciesPanel', { timeout: 30_000 }, () => {
  it('shows the current settings and both allowlists', async () => {
    renderWith(<PullPoliciesPanel project="library" canWrite />, { client: client([]) });
    expect(await screen.findByRole('switch', { name: 'Prevent vulnerable images from being pulled' })).toBeChecked();
    expect(screen.getByRole('switch', { name: /Allow images that have not been scanned/ })).not.toBeChecked();
    expect(screen.getByTestId('prevent-vulnerable-severity')).toHaveValue('High and above');
    const rows = screen.getAllByTestId('cve-allowlist-table-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByText('CVE-2024-1111')).toBeInTheDocument();
    expect(within(rows[0]).getByText('never')).toBeInTheDocument();
    expect(within(rows[1]).getByText('2020-01-01')).toBeInTheDocument();
    expect(within(rows[1]).getByText('Expired')).toBeInTheDocument();
    const sys = await screen.findByTestId('system-allowlist');
    expect(within(sys).getByText('CVE-2023-9999')).toBeInTheDocument();
    expect(within(sys).getByText(/Applies to every project/)).toBeInTheDocument();
    const sig = screen.getByTestId('require-signature');
    expect(within(sig).getByText('Enabled')).toBeInTheDocument();
    expect(within(sig).getByRole('textbox', { name: /Cosign public keys/ })).toHaveValue(KEY);
    for (const id of ['prevent-vulnerable-save', 'cve-allowlist-save', 'require-signature-save']) expect(screen.getByTestId(id)).toBeDisabled();
  });

  it('hides the system allowlist when berth refuses it', async () => {
    renderWith(<PullPoliciesPanel project="library" canWrite />, {
      client: client([], undefined, new CombinedError({ graphQLErrors: [{ message: 'sign in to read the system CVE allowlist', extensions: { code: 'UNAUTHENTICATED' } }] })),
    });
    expect(await screen.findByTestId('cve-allowlist-table')).toBeInTheDocument();
    expect(screen.queryByTestId('system-allowlist')).not.toBeInTheDocument();
  });

  it('saves the vulnerability policy', async () => {
    const calls: Call[] = [];
    renderWith(<PullPoliciesPanel project="library" canWrite />, { client: client(calls, () => ({ updateProject: { ...project } })) });
    await userEvent.click(await screen.findByTestId('prevent-vulnerable-severity'));
    await userEvent.click(await screen.findByRole('option', { name: 'Critical', hidden: true }));
    await userEvent.click(screen.getByRole('switch', { name: /Allow images that have not been scanned/ }));
    await userEvent.click(screen.getByTestId('prevent-vulnerable-save'));
    expect(mutations(calls, 'UpdatePullPolicies')).toEqual([{ name: 'library', input: { preventVulnerable: { enabled: true, severity: 'CRITICAL', allowUnscanned: true } } }]);
  });

  it('adds and removes allowlist entries, then replaces the list', async () => {
    const calls: Call[] = [];
    renderWith(<PullPoliciesPanel project="library" canWrite />, { client: client(calls, () => ({ setCVEAllowlist: project.cveAllowlist })) });
    const id = await screen.findByRole('textbox', { name: 'Vulnerability id' });
    await userEvent.type(id, 'cve-2024-1111');
    await userEvent.click(screen.getByTestId('cve-allowlist-add'));
    expect(screen.getByText('CVE-2024-1111 is already in the list.')).toBeInTheDocument();
    await userEvent.clear(id);
    await userEvent.type(id, ' cve-2025-0001 ');
    await userEvent.type(screen.getByLabelText('Expires on (optional)'), '2999-12-31');
    await userEvent.click(screen.getByTestId('cve-allowlist-add'));
    expect(id).toHaveValue('');
    await userEvent.click(screen.getByRole('button', { name: 'Remove GHSA-aaaa-bbbb-cccc' }));
    expect(screen.getAllByTestId('cve-allowlist-table-row')).toHaveLength(2);
    await userEvent.click(screen.getByTestId('cve-allowlist-save'));
    expect(mutations(calls, 'SetCVEAllowlist')).toEqual([
      {
        project: 'library',
        input: {
          entries: [
            { cve: 'CVE-2024-1111', expiresAt: null },
            { cve: 'CVE-2025-0001', expiresAt: '2999-12-31T00:00:00Z' },
          ],
        },
      },
    ]);
  });

  it('saves the signature keys one PEM block each, and refuses stray text', async () => {
    const calls: Call[] = [];
    renderWith(<PullPoliciesPanel project="library" canWrite />, { client: client(calls, () => ({ updateProject: { ...project } })) });
    const certs = await screen.findByRole('textbox', { name: /Notation certificates/ });
    await userEvent.click(certs);
    await userEvent.paste(`${CERT}\nstray`);
    await userEvent.click(screen.getByTestId('require-signature-save'));
    expect(await screen.findByText(/there is text outside them/)).toBeInTheDocument();
    expect(mutations(calls, 'UpdatePullPolicies')).toEqual([]);
    await userEvent.clear(certs);
    await userEvent.click(certs);
    await userEvent.paste(`${CERT}\n\n${CERT.replace('MIIB', 'MIIC')}\n`);
    await userEvent.click(screen.getByTestId('require-signature-save'));
    await waitFor(() =>
      expect(mutations(calls, 'UpdatePullPolicies')).toEqual([
        { name: 'library', input: { requireSignature: { cosignPublicKeys: [KEY], notationCertificates: [CERT, CERT.replace('MIIB', 'MIIC')] } } },
      ]),
    );
  });

  it('shows berth’s refusal', async () => {
    renderWith(<PullPoliciesPanel project="library" canWrite />, {
      client: client([], () => new CombinedError({ graphQLErrors: [{ message: '"NOPE" is not a vulnerability id', extensions: { code: 'BAD_USER_INPUT' } }] })),
    });
    await userEvent.click(await screen.findByRole('button', { name: 'Remove CVE-2024-1111' }));
    await userEvent.click(screen.getByTestId('cve-allowlist-save'));
    expect(await screen.findByTestId('cve-allowlist-error')).toHaveTextContent('"NOPE" is not a vulnerability id');
  });

  it('is read-only to members who are not project admins', async () => {
    renderWith(<PullPoliciesPanel project="library" canWrite={false} />, { client: client([]) });
    expect(await screen.findByRole('switch', { name: 'Prevent vulnerable images from being pulled' })).toBeDisabled();
    expect(screen.getAllByTestId('cve-allowlist-table-row')).toHaveLength(2);
    expect(screen.queryByRole('button', { name: /Save/ })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Remove/ })).not.toBeInTheDocument();
    expect(screen.queryByTestId('cve-allowlist-add')).not.toBeInTheDocument();
    expect(screen.getByRole('textbox', { name: /Cosign public keys/ })).toHaveAttribute('readonly');
  });
});

describe('splitPEM', () => {
  it('cuts text into blocks of one kind', () => {
    expect(splitPEM(`\n${KEY}\n\n${KEY}\n`, 'PUBLIC KEY')).toEqual({ blocks: [KEY, KEY] });
    expect(splitPEM('  ', 'PUBLIC KEY')).toEqual({ blocks: [] });
    expect(splitPEM(CERT, 'PUBLIC KEY').error).toBe('Block 1 is a CERTIFICATE, not a PUBLIC KEY.');
    expect(splitPEM(`${KEY}\n-----BEGIN PUBLIC KEY-----\nabc`, 'PUBLIC KEY').error).toMatch(/text outside them/);
  });
});

describe('allowlistIdError', () => {
  it.each([
    ['CVE-2024-1234', undefined],
    ['ghsa-xxxx-yyyy-zzzz', undefined],
    ['', 'Enter a vulnerability id, such as CVE-2024-1234.'],
    ['CVE 2024', 'Not a vulnerability id: write CVE-2024-1234, GHSA-xxxx-xxxx-xxxx or another OSV id.'],
    ['cve-2024-1111', 'CVE-2024-1111 is already in the list.'],
  ])('%j', (id, want) => {
    expect(allowlistIdError(id, [{ cve: 'CVE-2024-1111' }])).toBe(want);
  });
});
