// Permission names as GraphQL's Project.viewerPermissions lists them
// (resource:verb, the table in internal/auth/permissions.go).
export type Permission =
  | 'project:read'
  | 'project:update'
  | 'project:delete'
  | 'member:read'
  | 'member:write'
  | 'repository:pull'
  | 'repository:push'
  | 'repository:delete'
  | 'repository:update'
  | 'artifact:delete'
  | 'tag:create'
  | 'tag:delete'
  | 'artifact-label:write'
  | 'label:write'
  | 'log:read'
  | 'robot:read'
  | 'robot:write'
  | 'scan:create'
  | 'policy:read'
  | 'policy:write'
  | 'webhook:read'
  | 'webhook:write';

/** Anything that carries the caller's permissions in a project. */
export interface PermissionHolder {
  viewerPermissions?: readonly string[] | null;
}

/** can reports whether the caller holds every one of the permissions. */
export function can(holder: PermissionHolder | null | undefined, ...perms: Permission[]): boolean {
  const held = holder?.viewerPermissions;
  if (!held) return false;
  return perms.every((p) => held.includes(p));
}

/** The roles of schema's Role enum, in the words Harbor uses. */
export const ROLE_NAMES: Record<string, string> = {
  PROJECT_ADMIN: 'Project admin',
  MAINTAINER: 'Maintainer',
  DEVELOPER: 'Developer',
  GUEST: 'Guest',
  LIMITED_GUEST: 'Limited guest',
};
