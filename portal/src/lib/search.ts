// The global search box: what a query means and how results become links.
import { artifactUrl, projectUrl, repositoryUrl } from './routes';
import { shortDigest } from './format';

/** What the user typed, read as a search. */
export interface SearchPlan {
  /** Matched against project names. */
  projectText: string;
  /** Matched against repository names. */
  repositoryText: string;
  /** Artifacts: by digest (hex prefix) or by tag name; null when the text cannot name one. */
  artifact: { digest: string } | { tag: string; repository?: string } | null;
}

const DIGEST = /^(?:sha256:)?([0-9a-f]{6,64})$/;

/**
 * planSearch reads a query: "app" looks for projects, repositories and tags
 * containing it; "sha256:ab12cd" or a bare hex prefix of 6+ digits looks
 * for that digest; "team-a/app:v1" and "team-a/app@sha256:..." look in
 * repositories named like team-a/app for that tag or digest.
 */
export function planSearch(raw: string): SearchPlan | null {
  const q = raw.trim();
  if (q.length < 2) return null;
  const at = q.indexOf('@');
  if (at > 0) {
    const repo = q.slice(0, at);
    const m = q.slice(at + 1).match(DIGEST);
    return { projectText: repo.split('/')[0], repositoryText: repo, artifact: m ? { digest: m[1] } : null };
  }
  const digest = q.toLowerCase().match(DIGEST);
  if (digest && (q.startsWith('sha256:') || /\d/.test(q))) {
    return { projectText: q, repositoryText: q, artifact: { digest: digest[1] } };
  }
  const colon = q.lastIndexOf(':');
  if (colon > 0 && colon < q.length - 1 && !q.slice(colon).includes('/')) {
    const repo = q.slice(0, colon);
    return { projectText: repo.split('/')[0], repositoryText: repo, artifact: { tag: q.slice(colon + 1), repository: repo } };
  }
  return { projectText: q, repositoryText: q, artifact: { tag: q } };
}

/** The GraphQL variables of the GlobalSearch query for a plan. */
export function searchVariables(plan: SearchPlan) {
  const artifact = plan.artifact;
  return {
    projectWhere: { nameContainsFold: plan.projectText },
    repositoryWhere: { nameContainsFold: plan.repositoryText },
    // searchArtifacts: a digest by its prefix, a tag by any part of its name
    // (the server answers both from its search indexes).
    digestPrefix: artifact && 'digest' in artifact ? `sha256:${artifact.digest}` : null,
    tag: artifact && 'tag' in artifact ? artifact.tag : null,
    artifactRepository: artifact && 'tag' in artifact ? (artifact.repository ?? null) : null,
    withArtifacts: artifact !== null,
  };
}

/** One line of the search results. */
export interface SearchHit {
  kind: 'project' | 'repository' | 'artifact';
  key: string;
  label: string;
  detail: string;
  href: string;
}

interface SearchData {
  projects?: { edges?: ({ node?: { id: string; name: string; public: boolean; repositoryCount: number } | null } | null)[] | null } | null;
  repositories?: { edges?: ({ node?: { id: string; name: string; pullCount: number } | null } | null)[] | null } | null;
  searchArtifacts?:
    | {
        artifact: { id: string; digest: string; artifactType: string; tags?: { name: string }[] | null };
        repository: { id: string; name: string };
        tag?: { name: string } | null;
      }[]
    | null;
}

/** searchHits flattens a GlobalSearch answer into links, projects first. */
export function searchHits(data: SearchData | undefined): SearchHit[] {
  if (!data) return [];
  const hits: SearchHit[] = [];
  for (const e of data.projects?.edges ?? []) {
    const p = e?.node;
    if (!p) continue;
    hits.push({
      kind: 'project',
      key: p.id,
      label: p.name,
      detail: `${p.public ? 'Public' : 'Private'} project · ${p.repositoryCount} ${p.repositoryCount === 1 ? 'repository' : 'repositories'}`,
      href: projectUrl(p.name),
    });
  }
  for (const e of data.repositories?.edges ?? []) {
    const r = e?.node;
    if (!r) continue;
    hits.push({ kind: 'repository', key: r.id, label: r.name, detail: `Repository · ${r.pullCount} pulls`, href: repositoryUrl(r.name) });
  }
  for (const h of data.searchArtifacts ?? []) {
    const a = h.artifact;
    // The tag that matched, or for a digest hit the artifact's first tag.
    const tag = h.tag?.name ?? a.tags?.[0]?.name;
    hits.push({
      kind: 'artifact',
      key: h.tag ? `${a.id}:${h.tag.name}` : a.id,
      label: tag ? `${h.repository.name}:${tag}` : `${h.repository.name}@${shortDigest(a.digest)}`,
      detail: `${a.artifactType.replace('_', ' ').toLowerCase()} · ${shortDigest(a.digest)}`,
      href: artifactUrl(h.repository.name, a.digest),
    });
  }
  return hits;
}
