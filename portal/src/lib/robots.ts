// Robot permissions as access.graphql defines them: only some
// resource/action pairs are valid, and the picker offers exactly those.
import type { PermissionAction, PermissionResource } from '@/gql/graphql';

export interface PermissionPair {
  resource: PermissionResource;
  action: PermissionAction;
}

/** One valid pair with the words the picker shows. */
export interface PermissionChoice extends PermissionPair {
  label: string;
  description: string;
}

/** The resources in the order the picker lists them, each with its valid actions. */
export const ROBOT_PERMISSIONS: { resource: PermissionResource; label: string; choices: PermissionChoice[] }[] = [
  {
    resource: 'REPOSITORY',
    label: 'Repository',
    choices: [
      { resource: 'REPOSITORY', action: 'PULL', label: 'Pull', description: 'Pull images and other artifacts' },
      { resource: 'REPOSITORY', action: 'PUSH', label: 'Push', description: 'Push new artifacts and tags' },
      { resource: 'REPOSITORY', action: 'DELETE', label: 'Delete', description: 'Delete whole repositories' },
    ],
  },
  {
    resource: 'ARTIFACT',
    label: 'Artifact',
    choices: [
      { resource: 'ARTIFACT', action: 'READ', label: 'Read', description: 'List artifacts and read their details' },
      { resource: 'ARTIFACT', action: 'DELETE', label: 'Delete', description: 'Delete artifacts' },
    ],
  },
  {
    resource: 'TAG',
    label: 'Tag',
    choices: [
      { resource: 'TAG', action: 'CREATE', label: 'Create', description: 'Add tags to artifacts' },
      { resource: 'TAG', action: 'DELETE', label: 'Delete', description: 'Remove tags' },
    ],
  },
  {
    resource: 'ARTIFACT_LABEL',
    label: 'Artifact label',
    choices: [{ resource: 'ARTIFACT_LABEL', action: 'CREATE', label: 'Add & remove', description: 'Put labels on artifacts and take them off' }],
  },
  {
    resource: 'SCAN',
    label: 'Scan',
    choices: [{ resource: 'SCAN', action: 'CREATE', label: 'Scan', description: 'Start vulnerability scans' }],
  },
];

/** VALID_PAIRS lists every valid pair as "RESOURCE:ACTION". */
export const VALID_PAIRS: readonly string[] = ROBOT_PERMISSIONS.flatMap((r) => r.choices.map(pairKey));

/** pairKey names a pair, e.g. "REPOSITORY:PULL". */
export function pairKey(p: PermissionPair): string {
  return `${p.resource}:${p.action}`;
}

/** isValidPair reports whether the API accepts the pair. */
export function isValidPair(p: PermissionPair): boolean {
  return VALID_PAIRS.includes(pairKey(p));
}

/** DEFAULT_ROBOT_PERMISSIONS is what a new robot starts with: pull only, the least that is useful. */
export const DEFAULT_ROBOT_PERMISSIONS: readonly string[] = ['REPOSITORY:PULL'];

/**
 * togglePair adds or removes one pair from a selection (keys as pairKey
 * makes them), ignoring invalid pairs, and keeps the picker's order.
 */
export function togglePair(selected: readonly string[], key: string, on: boolean): string[] {
  if (!VALID_PAIRS.includes(key)) return VALID_PAIRS.filter((k) => selected.includes(k));
  const set = new Set(selected.filter((k) => VALID_PAIRS.includes(k)));
  if (on) set.add(key);
  else set.delete(key);
  return VALID_PAIRS.filter((k) => set.has(k));
}

/** toPermissionInputs turns selected keys into the API's input, with a project for system robots. */
export function toPermissionInputs(selected: readonly string[], project?: string): (PermissionPair & { project?: string })[] {
  return VALID_PAIRS.filter((k) => selected.includes(k)).map((k) => {
    const [resource, action] = k.split(':') as [PermissionResource, PermissionAction];
    return project === undefined ? { resource, action } : { project, resource, action };
  });
}

/** permissionLabel is how a granted pair reads in a list, e.g. "Repository: Pull". */
export function permissionLabel(p: PermissionPair): string {
  const r = ROBOT_PERMISSIONS.find((x) => x.resource === p.resource);
  const c = r?.choices.find((x) => x.action === p.action);
  if (!r || !c) return `${p.resource.toLowerCase()}:${p.action.toLowerCase()}`;
  return `${r.label}: ${c.label}`;
}

/** The expiry choices of a new robot; -1 means it never expires. */
export const ROBOT_EXPIRY = [
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: '-1', label: 'Never' },
];

/** ROBOT_NAME checks a robot's name as the API does: 1 to 64 lowercase letters, digits and single '.', '_' or '-'. */
export function robotNameProblem(name: string): string | null {
  if (!name) return null;
  if (name.length > 64) return 'At most 64 characters.';
  if (/[A-Z]/.test(name)) return 'Use lowercase letters only.';
  if (!/^[a-z0-9._-]+$/.test(name)) return "Use letters, digits and '.', '_' or '-'.";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'Start and end with a letter or digit.';
  if (/[._-]{2}/.test(name)) return "Separators ('.', '_', '-') may not follow each other.";
  return null;
}

/** dockerLoginCommand is the ready-to-paste login for a robot; the secret is read from stdin so it stays out of shell history. */
export function dockerLoginCommand(registryHost: string, login: string): string {
  return `docker login ${registryHost} -u '${login}' --password-stdin`;
}
