import { describe, expect, it } from 'vitest';
import { auditWhere } from './AuditLogTable';

describe('auditWhere', () => {
  it('is empty without filters', () => expect(auditWhere({})).toBeUndefined());
  it('puts project and operation at the top level, where berth checks a non-admin may read the log', () => {
    expect(auditWhere({ project: 'team-a', operation: 'pull' })).toEqual({ project: 'team-a', operation: 'pull' });
  });
  it('searches text across fields, and across projects only in the whole log', () => {
    expect(auditWhere({ project: 'team-a', text: 'bob' })).toEqual({
      project: 'team-a',
      or: [{ actorContainsFold: 'bob' }, { resourceContainsFold: 'bob' }, { operationContainsFold: 'bob' }],
    });
    expect(auditWhere({ text: 'bob' })?.or).toContainEqual({ projectContainsFold: 'bob' });
  });
});
