import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import { NO_FILTER, ProjectSecurityTab, csvUrl, vulnerabilityWhere } from './ProjectSecurity';
import { ProjectPage } from './Project';
import { adminSession, fakeClient, liveClient, renderWith } from '@/test/render';

type Call = { name: string; variables: Record<string, unknown> };

const DEBIAN = 'sha256:' + 'd'.repeat(64);
const MULTI = 'sha256:' + 'e'.repeat(64);

function artifact(id: string, repository: string, digest: string, tags: string[]) {
  return { id, digest, repository: { id: `r-${repository}`, name: repository }, tags: tags.map((name) => ({ id: `t-${name}`, name })) };
}

const summary = {
  severityCounts: { critical: 2, high: 4, medium: 2, low: 0, unknown: 2 },
  totalCount: 10,
  fixableCount: 8,
  artifactCount: 5,
  scannedCount: 3,
  failedCount: 1,
  unscannedCount: 1,
  dangerousVulnerabilities: [
    { id: 'DSA-9999-1', aliases: ['CVE-2024-9999'], severity: 'CRITICAL', cvssScore: 9.8, artifactCount: 2, fixedVersion: null },
    { id: 'DSA-5532-1', aliases: ['CVE-2023-5363'], severity: 'HIGH', cvssScore: 7.5, artifactCount: 2, fixedVersion: '3.0.11-1~deb12u2' },
  ],
  dangerousArtifacts: [
    { artifact: artifact('a2', 'library/multi', MULTI, ['1', 'latest']), severityCounts: { critical: 1, high: 2, medium: 1, low: 0, unknown: 1 }, fixableCount: 4 },
    { artifact: artifact('a1', 'library/debian', DEBIAN, []), severityCounts: { critical: 1, high: 1, medium: 0, low: 0, unknown: 1 }, fixableCount: 2 },
  ],
};

function finding(i: number, id: string, severity: string, repository = 'library/debian', digest = DEBIAN, tags = ['12']) {
  return {
    cursor: `c${i}`,
    node: {
      vulnerability: { id, aliases: [], package: `pkg${i}`, sourcePackage: null, installedVersion: '1.0', fixedVersion: i % 2 ? '1.1' : null, severity, cvssScore: null, summary: '' },
      artifact: artifact(`a-${repository}`, repository, digest, tags),
    },
  };
}

function client(calls: Call[], { sum = summary as unknown } = {}) {
  return fakeClient((name, vars) => {
    if (name === 'ProjectSecuritySummary') return { securitySummary: sum };
    if (name === 'ProjectVulnerabilities') {
      const where = vars.where as Record<string, unknown>;
      if (where.cve === 'DSA-5532-1') {
        return { vulnerabilities: { totalCount: 1, pageInfo: { hasNextPage: false, endCursor: 'c9' }, edges: [finding(9, 'DSA-5532-1', 'HIGH', 'library/multi', MULTI, ['1'])] } };
      }
      if (vars.after === 'c1') {
        return { vulnerabilities: { totalCount: 3, pageInfo: { hasNextPage: false, endCursor: 'c2' }, edges: [finding(2, 'DEBIAN-CVE-2024-0001', 'UNKNOWN')] } };
      }
      return { vulnerabilities: { totalCount: 3, pageInfo: { hasNextPage: true, endCursor: 'c1' }, edges: [finding(0, 'DSA-9999-1', 'CRITICAL'), finding(1, 'DSA-5532-1', 'HIGH')] } };
    }
    return undefined;
  }, calls);
}

describe('the security filter', () => {
  it('becomes the query filter and the CSV URL', () => {
    expect(vulnerabilityWhere('library', NO_FILTER)).toEqual({ project: 'library' });
    const f = { cve: ' CVE-2023-5363 ', package: 'openssl', severities: ['CRITICAL' as const, 'HIGH' as const], fixable: true };
    expect(vulnerabilityWhere('library', f)).toEqual({ project: 'library', cve: 'CVE-2023-5363', package: 'openssl', severity: ['CRITICAL', 'HIGH'], fixable: true });
    expect(csvUrl('library', NO_FILTER)).toBe('/api/projects/library/vulnerabilities.csv');
    expect(csvUrl('library', f)).toBe('/api/projects/library/vulnerabilities.csv?cve=CVE-2023-5363&package=openssl&severity=CRITICAL%2CHIGH&fixable=true');
  });
});

describe('ProjectSecurityTab', { timeout: 30_000 }, () => {
  it('shows the summary, the worst vulnerabilities and artifacts, and the findings page by page', async () => {
    const calls: Call[] = [];
    renderWith(<ProjectSecurityTab project="library" />, { client: client(calls) });
    const sum = await screen.findByTestId('security-summary');
    expect(within(sum).getByTestId('severity-critical')).toHaveTextContent('2 Critical');
    expect(within(sum).getByTestId('severity-high')).toHaveTextContent('4 High');
    expect(within(sum).getByTestId('security-total')).toHaveTextContent('10');
    expect(within(sum).getByTestId('security-fixable')).toHaveTextContent('8');
    expect(within(sum).getByTestId('security-scanned')).toHaveTextContent('3');
    expect(within(sum).getByTestId('security-failed')).toHaveTextContent('1');
    expect(within(sum).getByTestId('security-unscanned')).toHaveTextContent('1');
    expect(screen.getByTestId('security-csv')).toHaveAttribute('href', '/api/projects/library/vulnerabilities.csv');

    const top = screen.getAllByTestId('security-top-vulnerability');
    expect(top.map((r) => within(r).getByRole('link').textContent)).toEqual(['DSA-9999-1', 'DSA-5532-1']);
    expect(top[0]).toHaveTextContent('no fix');
    expect(top[1]).toHaveTextContent('3.0.11-1~deb12u2');
    expect(top[1]).toHaveTextContent('CVE-2023-5363');

    const arts = screen.getAllByTestId('security-top-artifact');
    expect(within(arts[0]).getByTestId('security-artifact-link')).toHaveTextContent('library/multi:1');
    expect(within(arts[0]).getByTestId('security-artifact-link')).toHaveAttribute('href', `/projects/library/repositories/multi/-/artifacts/${encodeURIComponent(MULTI)}`);
    expect(arts[0]).toHaveTextContent('+1 tag');
    expect(within(arts[1]).getByTestId('security-artifact-link')).toHaveTextContent('library/debian@');

    await waitFor(() => expect(screen.getAllByTestId('security-finding')).toHaveLength(2));
    expect(calls.find((c) => c.name === 'ProjectVulnerabilities')?.variables).toMatchObject({ first: 50, after: null, where: { project: 'library' } });
    await userEvent.click(screen.getByTestId('security-more'));
    await waitFor(() => expect(screen.getAllByTestId('security-finding')).toHaveLength(3));
    expect(screen.queryByTestId('security-more')).not.toBeInTheDocument();
  });

  it('filters the findings, and the CSV link follows the filters', async () => {
    const calls: Call[] = [];
    renderWith(<ProjectSecurityTab project="library" />, { client: client(calls) });
    await screen.findByTestId('security-summary');
    await userEvent.click(screen.getByRole('switch', { name: 'Fixable only' }));
    await waitFor(() => expect(calls.some((c) => c.name === 'ProjectVulnerabilities' && (c.variables.where as { fixable?: boolean }).fixable === true)).toBe(true));
    expect(screen.getByTestId('security-csv')).toHaveAttribute('href', '/api/projects/library/vulnerabilities.csv?fixable=true');

    await userEvent.type(screen.getByTestId('security-filter-package'), 'openssl');
    await waitFor(() => expect(calls.some((c) => c.name === 'ProjectVulnerabilities' && (c.variables.where as { package?: string }).package === 'openssl')).toBe(true));
    expect(screen.getByTestId('security-csv')).toHaveAttribute('href', '/api/projects/library/vulnerabilities.csv?package=openssl&fixable=true');

    // A worst vulnerability's filter button shows only its findings.
    await userEvent.click(screen.getByRole('button', { name: 'Show the findings of DSA-5532-1' }));
    await waitFor(() => expect(screen.getAllByTestId('security-finding')).toHaveLength(1));
    expect(screen.getByTestId('security-filter-cve')).toHaveValue('DSA-5532-1');
    expect(screen.getByRole('switch', { name: 'Fixable only' })).not.toBeChecked();
    expect(screen.getByTestId('security-finding')).toHaveTextContent('library/multi:1');
    expect(screen.getByTestId('security-csv')).toHaveAttribute('href', '/api/projects/library/vulnerabilities.csv?cve=DSA-5532-1');
  });

  it('says when there is nothing to scan', async () => {
    const empty = { ...summary, severityCounts: { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 }, totalCount: 0, fixableCount: 0, artifactCount: 0, scannedCount: 0, failedCount: 0, unscannedCount: 0, dangerousVulnerabilities: [], dangerousArtifacts: [] };
    const calls: Call[] = [];
    renderWith(<ProjectSecurityTab project="library" />, { client: client(calls, { sum: empty }) });
    expect(await screen.findByText('Nothing to scan yet')).toBeInTheDocument();
    expect(screen.queryByTestId('security-top-vulnerabilities')).not.toBeInTheDocument();
    expect(screen.queryByTestId('security-findings')).not.toBeInTheDocument();
    expect(calls.some((c) => c.name === 'ProjectVulnerabilities')).toBe(false);
  });

  it('is a tab of the project page for every reader', async () => {
    const live = liveClient((name) =>
      name === 'ProjectPage'
        ? {
            project: {
              id: 'p1', name: 'library', public: true, scanOnPush: false, description: '', repositoryCount: 1, usedBytes: 0, quotaBytes: -1,
              createdAt: '2025-06-15T12:00:00Z', viewerRole: null, viewerPermissions: ['project:read'],
            },
          }
        : name === 'ProjectSecuritySummary'
          ? { securitySummary: summary }
          : name === 'ProjectVulnerabilities'
            ? { vulnerabilities: { totalCount: 0, pageInfo: { hasNextPage: false, endCursor: null }, edges: [] } }
            : undefined,
    );
    renderWith(
      <Routes>
        <Route path="/projects/:project/*" element={<ProjectPage tab="security" />} />
      </Routes>,
      { client: live.client, path: '/projects/library/security', session: { ...adminSession, viewer: null } },
    );
    expect(await screen.findByRole('tab', { name: 'Security' })).toHaveAttribute('aria-selected', 'true');
    expect(await screen.findByTestId('security-summary')).toBeInTheDocument();
    expect(await screen.findByText('No vulnerabilities found')).toBeInTheDocument();
  });
});
