import { describe, expect, it } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ArtifactPage } from './Artifact';
import { fakeClient, renderWith } from '@/test/render';

const digest = `sha256:${'a'.repeat(64)}`;

function artifact(permissions: string[]) {
  return {
    artifact: {
      id: 'a1',
      digest,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'IMAGE',
      ociArtifactType: 'application/vnd.oci.image.config.v1+json',
      size: 2048,
      annotations: null,
      subjectDigest: null,
      pushedAt: '2025-01-01T00:00:00Z',
      pulledAt: null,
      manifest: '{"schemaVersion":2}',
      tags: [{ id: 't1', name: 'v1', createdAt: '2025-01-01T00:00:00Z' }],
      labels: [{ id: 'l1', name: 'release', color: '#22aa55', description: '' }],
      repository: {
        id: 'r1',
        name: 'team-a/app',
        project: { id: 'p1', name: 'team-a', viewerPermissions: permissions, requireSignature: { enabled: false } },
      },
      layers: [{ digest: `sha256:${'b'.repeat(64)}`, size: 1024, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
      config: { os: 'linux', architecture: 'amd64', variant: null, created: null, entrypoint: [], cmd: ['/bin/sh'], env: [], workingDir: null, user: null, labels: null, history: [] },
      children: [],
      referrers: [],
      chart: null,
      signatures: [] as unknown[],
    },
  };
}

describe('ArtifactPage', () => {
  it('shows pull commands by tag and by digest with the registry host', async () => {
    renderWith(<ArtifactPage repository="team-a/app" reference={digest} />, { client: fakeClient(() => artifact(['project:read'])) });
    expect(await screen.findByTestId('pull-by-tag')).toHaveTextContent('docker pull registry.example.com/team-a/app:v1');
    expect(screen.getByTestId('pull-by-digest')).toHaveTextContent(`docker pull registry.example.com/team-a/app@${digest}`);
  });

  it('hides the actions a guest may not take', async () => {
    renderWith(<ArtifactPage repository="team-a/app" reference={digest} />, { client: fakeClient(() => artifact(['project:read', 'repository:pull'])) });
    await screen.findByTestId('pull-by-tag');
    expect(screen.queryByRole('button', { name: 'Add tag' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Add label' })).not.toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Delete' })).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Delete tag v1')).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Remove label release')).not.toBeInTheDocument();
  });

  it('offers tagging, labelling and deleting to a maintainer', async () => {
    renderWith(<ArtifactPage repository="team-a/app" reference={digest} />, {
      client: fakeClient(() => artifact(['project:read', 'tag:create', 'tag:delete', 'artifact-label:write', 'artifact:delete'])),
    });
    expect(await screen.findByRole('button', { name: 'Add tag' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Add label' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Delete' })).toBeInTheDocument();
    expect(screen.getByLabelText('Delete tag v1')).toBeInTheDocument();
    expect(screen.getByLabelText('Remove label release')).toBeInTheDocument();
  });

  it('says when the artifact does not exist', async () => {
    renderWith(<ArtifactPage repository="team-a/app" reference="nope" />, { client: fakeClient(() => ({ artifact: null })) });
    expect(await screen.findByText('Artifact nope not found')).toBeInTheDocument();
  });
  it('marks an immutable tag with a lock and offers no delete for it', async () => {
    const a = artifact(['project:read', 'tag:create', 'tag:delete']);
    a.artifact.tags = [
      { id: 't1', name: 'v1', createdAt: '2025-01-01T00:00:00Z', immutable: true },
      { id: 't2', name: 'dev', createdAt: '2025-01-01T00:00:00Z', immutable: false },
    ] as unknown as typeof a.artifact.tags;
    renderWith(<ArtifactPage repository="team-a/app" reference={digest} />, { client: fakeClient(() => a) });
    const tags = await screen.findByTestId('artifact-tags');
    expect(within(tags).getAllByTestId('tag-immutable')).toHaveLength(1);
    expect(screen.queryByLabelText('Delete tag v1')).not.toBeInTheDocument();
    expect(screen.getByLabelText('Delete tag dev')).toBeInTheDocument();
  });
});

type Call = { name: string; variables: Record<string, unknown> };

const counts = { critical: 1, high: 2, medium: 0, low: 0, unknown: 0 };

function scan(status: string, extra: Record<string, unknown> = {}) {
  return {
    status,
    error: null,
    requestedAt: '2025-01-01T00:00:00Z',
    finishedAt: status === 'SUCCESS' || status === 'ERROR' ? '2025-01-01T00:01:00Z' : null,
    os: 'debian 12',
    packageCount: 88,
    fixableCount: 1,
    severityCounts: counts,
    ...extra,
  };
}

const findings = [
  {
    id: 'DSA-5532-1',
    aliases: ['CVE-2023-5363'],
    package: 'libssl3',
    sourcePackage: 'openssl',
    installedVersion: '3.0.9-1',
    fixedVersion: '3.0.11-1~deb12u2',
    severity: 'CRITICAL',
    cvssScore: 9.8,
    summary: 'openssl security update',
    layerDigest: `sha256:${'c'.repeat(64)}`,
  },
  {
    id: 'DEBIAN-CVE-2023-4039',
    aliases: [],
    package: 'libgcc-s1',
    sourcePackage: 'gcc-12',
    installedVersion: '12.2.0-14',
    fixedVersion: null,
    severity: 'HIGH',
    cvssScore: null,
    summary: 'stack protector bypass on arm64',
    layerDigest: null,
  },
];

/** scanPage renders an artifact page whose scan is scanOf() and opens its Vulnerabilities tab. */
async function scanPage(permissions: string[], scanOf: () => unknown, calls: Call[] = []) {
  const client = fakeClient((name, variables) => {
    if (name === 'ArtifactPage') return artifact(permissions);
    if (name === 'ArtifactScan') return { artifact: { id: 'a1', scan: scanOf() } };
    if (name === 'ArtifactVulnerabilities') {
      const where = (variables.where ?? {}) as { severity?: string[]; fixable?: boolean };
      const nodes = findings.filter((f) => (!where.severity || where.severity.includes(f.severity)) && (!where.fixable || f.fixedVersion));
      const more = !variables.after;
      return {
        artifact: {
          id: 'a1',
          scan: {
            vulnerabilities: {
              totalCount: nodes.length * 2,
              pageInfo: { hasNextPage: more, endCursor: more ? 'cursor-1' : null },
              edges: nodes.map((node) => ({ node })),
            },
          },
        },
      };
    }
    if (name === 'ScanArtifact') return { scanArtifact: { status: 'PENDING' } };
    return undefined;
  }, calls);
  renderWith(<ArtifactPage repository="team-a/app" reference={digest} />, { client });
  await userEvent.click(await screen.findByRole('tab', { name: 'Vulnerabilities' }));
}

describe('ArtifactPage vulnerabilities', { timeout: 20_000 }, () => {
  const developer = ['project:read', 'repository:pull', 'repository:push', 'scan:create'];

  it('says an artifact was never scanned and scans it on Scan now', async () => {
    const calls: Call[] = [];
    let current: unknown = null;
    await scanPage(developer, () => current, calls);
    expect(await screen.findByText(/Never scanned/)).toBeInTheDocument();
    current = scan('PENDING');
    await userEvent.click(screen.getByRole('button', { name: 'Scan now' }));
    expect(calls.find((c) => c.name === 'ScanArtifact')?.variables).toEqual({ repository: 'team-a/app', reference: digest });
    expect(await screen.findByText('Waiting for a scanner…')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Scan again' })).toBeDisabled();
  });

  it('shows a finished scan: counts by severity, findings with their fix or none', async () => {
    await scanPage(developer, () => scan('SUCCESS'));
    expect(await screen.findByTestId('severity-critical')).toHaveTextContent('1 Critical');
    expect(screen.getByTestId('severity-high')).toHaveTextContent('2 High');
    expect(screen.getByTestId('scan-status')).toHaveTextContent('debian 12 · 88 packages');
    const rows = await screen.findAllByTestId('vulnerability-row');
    expect(rows).toHaveLength(2);
    expect(within(rows[0]).getByRole('link', { name: 'DSA-5532-1' })).toHaveAttribute('href', 'https://osv.dev/vulnerability/DSA-5532-1');
    expect(rows[0]).toHaveTextContent('CVE-2023-5363');
    expect(rows[0]).toHaveTextContent('source openssl');
    expect(rows[0]).toHaveTextContent('3.0.11-1~deb12u2');
    expect(rows[0]).toHaveTextContent('9.8');
    expect(rows[0]).toHaveTextContent(`sha256:${'c'.repeat(12)}`);
    expect(rows[1]).toHaveTextContent('no fix');
    expect(screen.getByRole('button', { name: 'Scan again' })).toBeEnabled();
  });

  it('shows why a scan failed', async () => {
    await scanPage(developer, () => scan('ERROR', { error: 'not a container image: no layers' }));
    expect(await screen.findByTestId('scan-error')).toHaveTextContent('not a container image: no layers');
    expect(screen.queryByTestId('vulnerabilities-table')).not.toBeInTheDocument();
  });

  it('filters by severity and fixability, and loads more with the cursor', async () => {
    const calls: Call[] = [];
    await scanPage(developer, () => scan('SUCCESS'), calls);
    await screen.findAllByTestId('vulnerability-row');
    const last = () => calls.filter((c) => c.name === 'ArtifactVulnerabilities').at(-1)?.variables;

    await userEvent.click(screen.getByTestId('vulnerabilities-more'));
    await waitFor(() => expect(last()?.after).toBe('cursor-1'));
    expect(screen.getAllByTestId('vulnerability-row')).toHaveLength(4);

    await userEvent.click(screen.getByTestId('vulnerabilities-severity'));
    await userEvent.click(await screen.findByRole('option', { name: 'High', hidden: true }));
    await waitFor(() => expect(last()).toMatchObject({ after: null, where: { severity: ['HIGH'] } }));
    await userEvent.click(screen.getByRole('switch', { name: 'Fixable only' }));
    await waitFor(() => expect(last()?.where).toEqual({ severity: ['HIGH'], fixable: true }));
    expect(await screen.findByText('No vulnerability matches')).toBeInTheDocument();
  });

  it('offers no scan to a guest', async () => {
    await scanPage(['project:read', 'repository:pull'], () => null);
    expect(await screen.findByText(/Developers of the project can scan it/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Scan/ })).not.toBeInTheDocument();
  });

  it('offers no Vulnerabilities tab for an artifact that is not an image', async () => {
    const a = artifact(['project:read', 'scan:create']);
    a.artifact.artifactType = 'SIGNATURE';
    renderWith(<ArtifactPage repository="team-a/app" reference={digest} />, { client: fakeClient(() => a) });
    await screen.findByTestId('pull-by-tag');
    expect(screen.queryByRole('tab', { name: 'Vulnerabilities' })).not.toBeInTheDocument();
  });
});

const sigDigest = `sha256:${'d'.repeat(64)}`;
const fingerprint = `sha256:${'e'.repeat(64)}`;

/** signaturesPage renders an image's page whose signatures are sigs, in a project that requires them or not, and opens its Signatures tab. */
async function signaturesPage(sigs: unknown[], required = false, calls: Call[] = []) {
  const a = artifact(['project:read']);
  a.artifact.signatures = sigs;
  a.artifact.repository.project.requireSignature.enabled = required;
  renderWith(<ArtifactPage repository="team-a/app" reference="v1" />, { client: fakeClient(() => a, calls) });
  await userEvent.click(await screen.findByRole('tab', { name: /Signatures/ }));
}

describe('ArtifactPage signatures', { timeout: 20_000 }, () => {
  it('shows a verified signature: Signed, its signer and a link to the signature', async () => {
    const calls: Call[] = [];
    await signaturesPage([{ kind: 'COSIGN', digest: sigDigest, verified: true, signer: fingerprint, error: null }], false, calls);
    expect(await screen.findByTestId('signature-status')).toHaveTextContent('Signed');
    const [row] = await screen.findAllByTestId('signature-row');
    expect(row).toHaveTextContent('cosign');
    expect(row).toHaveTextContent('verified');
    expect(row).toHaveTextContent(`sha256:${'e'.repeat(12)}`);
    expect(within(row).getByRole('link', { name: `sha256:${'d'.repeat(12)}` })).toHaveAttribute('href', `/projects/team-a/repositories/app/-/artifacts/${encodeURIComponent(sigDigest)}`);
    expect(screen.queryByTestId('signature-required')).not.toBeInTheDocument();
    // Asked for by digest, once the page knows the artifact is an image.
    expect(calls.filter((c) => c.name === 'ArtifactSignatures').map((c) => c.variables)).toEqual([{ repository: 'team-a/app', reference: digest }]);
  });

  it('says when no signature verifies, and why', async () => {
    await signaturesPage([{ kind: 'NOTATION', digest: sigDigest, verified: false, signer: null, error: 'no certificate of the project verifies it' }], true);
    expect(await screen.findByTestId('signature-status')).toHaveTextContent('Signature not verified');
    const [row] = await screen.findAllByTestId('signature-row');
    expect(row).toHaveTextContent('Notation');
    expect(row).toHaveTextContent('not verified');
    expect(row).toHaveTextContent('no certificate of the project verifies it');
    expect(screen.getByTestId('signature-required')).toHaveTextContent('Pulls of this artifact are refused.');
  });

  it('says an image is unsigned and that the project requires signatures', async () => {
    await signaturesPage([], true);
    expect(await screen.findByTestId('signature-status')).toHaveTextContent('Unsigned');
    expect(screen.getByTestId('signature-required')).toHaveTextContent('The project requires signed images');
    expect(screen.getByTestId('sign-cosign')).toHaveTextContent(`cosign sign --key cosign.key registry.example.com/team-a/app@${digest}`);
    expect(screen.queryByTestId('signatures-table')).not.toBeInTheDocument();
  });

  it('does not ask for the signatures of an artifact that is not an image', async () => {
    const calls: Call[] = [];
    const a = artifact(['project:read']);
    a.artifact.artifactType = 'SIGNATURE';
    renderWith(<ArtifactPage repository="team-a/app" reference={digest} />, { client: fakeClient(() => a, calls) });
    await screen.findByTestId('pull-by-tag');
    expect(screen.queryByRole('tab', { name: /Signatures/ })).not.toBeInTheDocument();
    expect(screen.queryByTestId('signature-status')).not.toBeInTheDocument();
    expect(calls.some((c) => c.name === 'ArtifactSignatures')).toBe(false);
  });
});

describe('ArtifactPage SBOM', { timeout: 20_000 }, () => {
  const sbom = { id: 's1', digest: `sha256:${'f'.repeat(64)}`, size: 4096 };

  it('links the SBOM of a scan and shows the oras command to pull it', async () => {
    await scanPage(['project:read'], () => scan('SUCCESS', { sbom }));
    const box = await screen.findByTestId('sbom');
    expect(box).toHaveTextContent('SBOM (SPDX 2.3)');
    expect(within(box).getByTestId('sbom-link')).toHaveAttribute('href', `/projects/team-a/repositories/app/-/artifacts/${encodeURIComponent(sbom.digest)}`);
    expect(within(box).getByTestId('sbom-pull')).toHaveTextContent(`oras pull registry.example.com/team-a/app@${sbom.digest}`);
  });

  it('shows no SBOM before a scan made one', async () => {
    await scanPage(['project:read'], () => scan('SUCCESS', { sbom: null }));
    await screen.findByTestId('severity-critical');
    expect(screen.queryByTestId('sbom')).not.toBeInTheDocument();
  });
});
