import { describe, expect, it } from 'vitest';
import { screen, within } from '@testing-library/react';
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
      repository: { id: 'r1', name: 'team-a/app', project: { id: 'p1', name: 'team-a', viewerPermissions: permissions } },
      layers: [{ digest: `sha256:${'b'.repeat(64)}`, size: 1024, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }],
      config: { os: 'linux', architecture: 'amd64', variant: null, created: null, entrypoint: [], cmd: ['/bin/sh'], env: [], workingDir: null, user: null, labels: null, history: [] },
      children: [],
      referrers: [],
      chart: null,
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
