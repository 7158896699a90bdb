import { describe, expect, it } from 'vitest';
import { VALID_PAIRS, isValidPair, permissionLabel, robotNameProblem, toPermissionInputs, togglePair } from './robots';

describe('robot permission pairs', () => {
  it('are exactly the pairs access.graphql allows', () => {
    expect([...VALID_PAIRS].sort()).toEqual(
      [
        'REPOSITORY:PULL',
        'REPOSITORY:PUSH',
        'REPOSITORY:DELETE',
        'ARTIFACT:READ',
        'ARTIFACT:DELETE',
        'TAG:CREATE',
        'TAG:DELETE',
        'ARTIFACT_LABEL:CREATE',
        'SCAN:CREATE',
      ].sort(),
    );
  });

  it.each([
    ['REPOSITORY', 'READ'],
    ['ARTIFACT', 'PUSH'],
    ['TAG', 'PULL'],
    ['ARTIFACT_LABEL', 'DELETE'],
    ['SCAN', 'DELETE'],
  ] as const)('refuses %s %s', (resource, action) => expect(isValidPair({ resource, action })).toBe(false));

  it('toggles pairs on and off, keeping the picker order', () => {
    let sel = togglePair([], 'TAG:CREATE', true);
    sel = togglePair(sel, 'REPOSITORY:PULL', true);
    expect(sel).toEqual(['REPOSITORY:PULL', 'TAG:CREATE']);
    expect(togglePair(sel, 'TAG:CREATE', false)).toEqual(['REPOSITORY:PULL']);
  });

  it('never lets an invalid pair into the selection', () => {
    expect(togglePair(['REPOSITORY:PULL'], 'REPOSITORY:READ', true)).toEqual(['REPOSITORY:PULL']);
    expect(togglePair(['SCAN:DELETE', 'SCAN:CREATE'], 'TAG:DELETE', true)).toEqual(['TAG:DELETE', 'SCAN:CREATE']);
  });

  it('builds the API input, with a project for system robots only', () => {
    expect(toPermissionInputs(['REPOSITORY:PUSH', 'REPOSITORY:PULL'])).toEqual([
      { resource: 'REPOSITORY', action: 'PULL' },
      { resource: 'REPOSITORY', action: 'PUSH' },
    ]);
    expect(toPermissionInputs(['ARTIFACT:READ'], '*')).toEqual([{ project: '*', resource: 'ARTIFACT', action: 'READ' }]);
  });

  it('labels pairs for people', () => {
    expect(permissionLabel({ resource: 'ARTIFACT_LABEL', action: 'CREATE' })).toBe('Artifact label: Add & remove');
    expect(permissionLabel({ resource: 'REPOSITORY', action: 'PULL' })).toBe('Repository: Pull');
  });
});

describe('robotNameProblem', () => {
  it.each([
    ['ci', null],
    ['release.bot-2', null],
    ['CI', 'Use lowercase letters only.'],
    ['-ci', 'Start and end with a letter or digit.'],
    ['ci--x', "Separators ('.', '_', '-') may not follow each other."],
    ['c i', "Use letters, digits and '.', '_' or '-'."],
    ['a'.repeat(65), 'At most 64 characters.'],
  ])('%s → %s', (name, want) => expect(robotNameProblem(name)).toBe(want));
});
