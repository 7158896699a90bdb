import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ProjectScannerPanel } from './ProjectScanner';
import { fakeClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

const scanners = [
  { name: 'trivy', scannerName: 'Trivy', default: true, disabled: false },
  { name: 'grype', scannerName: 'Grype', default: false, disabled: true },
];

function client(scanner: string, calls: Call[] = []) {
  return fakeClient((name, vars) => {
    if (name === 'ProjectScanner') return { project: { id: 'p1', scanner } };
    if (name === 'ScannerChoices') return { scanners };
    if (name === 'SetProjectScanner') return { setProjectScanner: { id: 'p1', scanner: vars.scanner ?? '' } };
    return undefined;
  }, calls);
}

const mutations = (calls: Call[]) => calls.filter((c) => c.name === 'SetProjectScanner').map((c) => c.variables);

describe('ProjectScannerPanel', { timeout: 30_000 }, () => {
  it('offers the system default, the built-in scanner and each registration, and saves the choice', async () => {
    const calls: Call[] = [];
    renderWith(<ProjectScannerPanel project="library" canWrite />, { client: client('', calls) });
    const select = await screen.findByTestId('project-scanner-select');
    expect(select).toHaveValue('System default (trivy)');
    expect(screen.getByTestId('project-scanner-save')).toBeDisabled();
    await userEvent.click(select);
    expect(await screen.findByRole('option', { name: 'berth (built-in)', hidden: true })).toBeInTheDocument();
    expect(screen.getByRole('option', { name: 'grype (Grype, disabled)', hidden: true })).toBeInTheDocument();
    await userEvent.click(screen.getByRole('option', { name: 'trivy (Trivy)', hidden: true }));
    await userEvent.click(screen.getByTestId('project-scanner-save'));
    expect(mutations(calls)).toEqual([{ project: 'library', scanner: 'trivy' }]);
  });

  it('sends null to go back to the system default', async () => {
    const calls: Call[] = [];
    renderWith(<ProjectScannerPanel project="library" canWrite />, { client: client('berth', calls) });
    const select = await screen.findByTestId('project-scanner-select');
    expect(select).toHaveValue('berth (built-in)');
    await userEvent.click(select);
    await userEvent.click(await screen.findByRole('option', { name: 'System default (trivy)', hidden: true }));
    await userEvent.click(screen.getByTestId('project-scanner-save'));
    expect(mutations(calls)).toEqual([{ project: 'library', scanner: null }]);
  });

  it('is read-only for who may not change it', async () => {
    renderWith(<ProjectScannerPanel project="library" canWrite={false} />, { client: client('trivy') });
    const select = await screen.findByTestId('project-scanner-select');
    expect(select).toHaveValue('trivy (Trivy)');
    expect(select).toBeDisabled();
    expect(screen.queryByTestId('project-scanner-save')).not.toBeInTheDocument();
    expect(screen.getByText('Only project admins can change the scanner.')).toBeInTheDocument();
  });
});
