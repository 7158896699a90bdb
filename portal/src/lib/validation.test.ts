import { describe, expect, it } from 'vitest';
import { validateProjectName, validateRepositoryName, validateTag } from './validation';

describe('validateProjectName', () => {
  it.each(['a', 'team-a', 'team_a', 'team.a', 'a1.b2_c3-d4', '0', 'x'.repeat(255)])('accepts %s', (name) => {
    expect(validateProjectName(name)).toBeNull();
  });
  it.each([
    ['', 'Enter a name.'],
    ['Team', 'Use lowercase letters only.'],
    ['team a', 'Spaces are not allowed'],
    ['team/a', '"/" is not allowed'],
    ['-team', 'Start with a lowercase letter or a digit.'],
    ['team.', 'End with a lowercase letter or a digit.'],
    ['team--a', 'never two in a row'],
    ['team._a', 'never two in a row'],
    ['x'.repeat(256), 'At most 255 characters'],
  ])('refuses %j saying %s', (name, msg) => {
    expect(validateProjectName(name)).toContain(msg);
  });
});

describe('validateTag', () => {
  it.each(['v1', 'latest', '1.2.3-rc.1', '_x'])('accepts %s', (t) => expect(validateTag(t)).toBeNull());
  it.each(['', '-x', '.x', 'a b', 'x'.repeat(129)])('refuses %j', (t) => expect(validateTag(t)).not.toBeNull());
});

describe('validateRepositoryName', () => {
  it.each(['team-a/app', 'team-a/tools/app', 'a/b__c', 'a/b---c'])('accepts %s', (n) => expect(validateRepositoryName(n)).toBeNull());
  it.each(['app', 'Team/app', 'team/-app', 'team//app'])('refuses %s', (n) => expect(validateRepositoryName(n)).not.toBeNull());
});
