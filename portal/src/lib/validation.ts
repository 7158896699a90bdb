// Client-side copies of berth's name rules, so forms can explain a problem
// while the user types. The server checks them again.

/** The project name rule of internal/projects: Harbor's. */
export const PROJECT_NAME_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/**
 * validateProjectName returns null for a valid project name, or a sentence
 * naming the first problem found.
 */
export function validateProjectName(name: string): string | null {
  if (name.length === 0) return 'Enter a name.';
  if (name.length > 255) return `At most 255 characters (this one has ${name.length}).`;
  const bad = name.match(/[^a-z0-9._-]/);
  if (bad) {
    const ch = bad[0];
    if (ch >= 'A' && ch <= 'Z') return 'Use lowercase letters only.';
    if (ch === ' ') return 'Spaces are not allowed; use "-", "_" or "." between words.';
    return `"${ch}" is not allowed: use lowercase letters, digits, ".", "_" and "-".`;
  }
  if (/^[._-]/.test(name)) return 'Start with a lowercase letter or a digit.';
  if (/[._-]$/.test(name)) return 'End with a lowercase letter or a digit.';
  if (/[._-]{2}/.test(name)) return 'Put a single ".", "_" or "-" between letters and digits, never two in a row.';
  return PROJECT_NAME_PATTERN.test(name) ? null : 'Invalid name.';
}

/** The distribution spec's tag rule. */
export const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** validateTag returns null for a valid tag or the reason it is not. */
export function validateTag(tag: string): string | null {
  if (tag.length === 0) return 'Enter a tag.';
  if (tag.length > 128) return 'At most 128 characters.';
  if (!/^[a-zA-Z0-9_]/.test(tag)) return 'Start with a letter, a digit or "_".';
  if (!TAG_PATTERN.test(tag)) return 'Use letters, digits, ".", "_" and "-" only.';
  return null;
}

const REPO_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY_PATTERN = new RegExp(`^${REPO_COMPONENT}(?:/${REPO_COMPONENT})+$`);

/** validateRepositoryName checks a full repository name such as team-a/app. */
export function validateRepositoryName(name: string): string | null {
  if (name.length === 0) return 'Enter a repository, such as team-a/app.';
  if (!name.includes('/')) return 'Name the project too: <project>/<path>, such as team-a/app.';
  if (name.length > 255) return 'At most 255 characters.';
  if (!REPOSITORY_PATTERN.test(name)) return 'Use lowercase letters, digits and separators (".", "_", "-", "/").';
  return null;
}

/** The label colour rule of internal/projects. */
export function validateColor(color: string): string | null {
  return /^#[0-9a-fA-F]{6}$/.test(color) ? null : 'Use a colour like #22aa55.';
}
