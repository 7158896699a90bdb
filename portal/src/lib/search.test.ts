import { describe, expect, it } from 'vitest';
import { planSearch, searchHits, searchVariables } from './search';
import { parseRepositorySplat, artifactUrl, repositoryUrl } from './routes';

describe('planSearch', () => {
  it('ignores a single character', () => expect(planSearch(' a ')).toBeNull());

  it('looks for names and tags by plain text', () => {
    expect(planSearch('app')).toEqual({ projectText: 'app', repositoryText: 'app', artifact: { tag: 'app' } });
  });

  it('reads a digest with or without its algorithm', () => {
    expect(planSearch('sha256:ab12cd34')?.artifact).toEqual({ digest: 'ab12cd34' });
    expect(planSearch('ab12cd34ef')?.artifact).toEqual({ digest: 'ab12cd34ef' });
  });

  it('treats a hex-looking word without digits as a name', () => {
    expect(planSearch('facade')?.artifact).toEqual({ tag: 'facade' });
  });

  it('reads repository:tag and repository@digest', () => {
    expect(planSearch('team-a/app:v1')).toEqual({ projectText: 'team-a', repositoryText: 'team-a/app', artifact: { tag: 'v1', repository: 'team-a/app' } });
    expect(planSearch('team-a/app@sha256:abc123')?.artifact).toEqual({ digest: 'abc123' });
  });
});

describe('searchVariables', () => {
  it('searches tags inside matching repositories', () => {
    const v = searchVariables(planSearch('team-a/app:v1')!);
    expect(v).toEqual({
      projectWhere: { nameContainsFold: 'team-a' },
      repositoryWhere: { nameContainsFold: 'team-a/app' },
      tag: 'v1',
      digestPrefix: null,
      artifactRepository: 'team-a/app',
      withArtifacts: true,
    });
  });
  it('searches digests by prefix', () => {
    const v = searchVariables(planSearch('sha256:ab12cd')!);
    expect([v.digestPrefix, v.tag, v.artifactRepository]).toEqual(['sha256:ab12cd', null, null]);
  });
  it('asks for no artifacts when the text cannot name one', () => {
    expect(searchVariables(planSearch('team-a/app@latest')!).withArtifacts).toBe(false);
  });
});

describe('searchHits', () => {
  it('links projects, repositories and artifacts, naming the matching tag', () => {
    const digest = 'sha256:' + 'f'.repeat(64);
    const hits = searchHits({
      projects: { edges: [{ node: { id: 'p1', name: 'team-a', public: true, repositoryCount: 2 } }] },
      repositories: { edges: [{ node: { id: 'r1', name: 'team-a/app', pullCount: 7 } }] },
      searchArtifacts: [
        { artifact: { id: 'a1', digest, artifactType: 'IMAGE', tags: [{ name: 'latest' }, { name: 'v1' }] }, repository: { id: 'r1', name: 'team-a/app' }, tag: { name: 'v1' } },
        { artifact: { id: 'a2', digest: 'sha256:' + 'e'.repeat(64), artifactType: 'IMAGE_INDEX', tags: [] }, repository: { id: 'r1', name: 'team-a/app' }, tag: null },
      ],
    });
    expect(hits.map((h) => [h.kind, h.label, h.detail, h.href])).toEqual([
      ['project', 'team-a', 'Public project · 2 repositories', '/projects/team-a'],
      ['repository', 'team-a/app', 'Repository · 7 pulls', '/projects/team-a/repositories/app'],
      ['artifact', 'team-a/app:v1', 'image · sha256:ffffffffffff', `/projects/team-a/repositories/app/-/artifacts/sha256%3A${'f'.repeat(64)}`],
      ['artifact', 'team-a/app@sha256:eeeeeeeeeeee', 'image index · sha256:eeeeeeeeeeee', `/projects/team-a/repositories/app/-/artifacts/sha256%3A${'e'.repeat(64)}`],
    ]);
  });
});

describe('routes', () => {
  it('round-trips repository and artifact URLs', () => {
    const url = artifactUrl('team-a/tools/app', 'sha256:abc');
    const splat = url.replace('/projects/team-a/repositories/', '');
    expect(parseRepositorySplat('team-a', splat)).toEqual({ repository: 'team-a/tools/app', reference: 'sha256:abc' });
    expect(parseRepositorySplat('team-a', repositoryUrl('team-a/tools/app').replace('/projects/team-a/repositories/', ''))).toEqual({ repository: 'team-a/tools/app' });
  });
});
