import { describe, expect, it } from 'vitest';
import { can } from './permissions';

describe('can', () => {
  const developer = { viewerPermissions: ['project:read', 'repository:pull', 'repository:push', 'tag:create', 'artifact-label:write'] };
  it('allows what the project grants', () => expect(can(developer, 'repository:push', 'tag:create')).toBe(true));
  it('refuses when one permission is missing', () => expect(can(developer, 'tag:create', 'artifact:delete')).toBe(false));
  it('refuses without permissions', () => {
    expect(can(null, 'project:read')).toBe(false);
    expect(can({ viewerPermissions: null }, 'project:read')).toBe(false);
  });
});
