// URLs of the portal's pages. Repository names contain slashes, so a
// repository's page is /projects/<project>/repositories/<path> and an
// artifact's adds /-/artifacts/<reference>: "-" is never a whole component
// of a repository name, so the split is unambiguous.
import { splitRepositoryName } from './format';

export const ARTIFACT_SEPARATOR = '/-/artifacts/';

/** The tabs of a project page besides its repositories, each at /projects/<name>/<tab>. */
export const PROJECT_TABS = ['security', 'members', 'robots', 'labels', 'logs', 'webhooks', 'policy', 'settings'] as const;
export type ProjectTab = (typeof PROJECT_TABS)[number];

export function projectUrl(project: string, tab?: ProjectTab): string {
  return `/projects/${encodeURIComponent(project)}${tab ? `/${tab}` : ''}`;
}

export function repositoryUrl(repository: string): string {
  const { project, path } = splitRepositoryName(repository);
  return `/projects/${encodeURIComponent(project)}/repositories/${path}`;
}

export function artifactUrl(repository: string, reference: string): string {
  return `${repositoryUrl(repository)}${ARTIFACT_SEPARATOR}${encodeURIComponent(reference)}`;
}

/**
 * parseRepositorySplat reads the part of the URL after
 * /projects/<project>/repositories/ back into a repository name and an
 * optional artifact reference.
 */
export function parseRepositorySplat(project: string, splat: string): { repository: string; reference?: string } {
  const i = splat.indexOf(ARTIFACT_SEPARATOR);
  const path = (i < 0 ? splat : splat.slice(0, i)).replace(/\/+$/, '');
  const repository = `${project}/${path}`;
  if (i < 0) return { repository };
  const reference = decodeURIComponent(splat.slice(i + ARTIFACT_SEPARATOR.length).replace(/\/+$/, ''));
  return { repository, reference: reference || undefined };
}
