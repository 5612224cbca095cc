import { describe, expect, it } from 'vitest';
import { hostIdProblem, hostNqnForUuid, nqnProblem, uuidOfHostNqn } from './host-ids.js';

describe('nqnProblem', () => {
  it.each([
    'nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964',
    'nqn.2014-08.org.nvmexpress.discovery',
    'nqn.1988-11.com.dell:SFSS:2:20220208134025e8',
  ])('accepts %s', (nqn) => {
    expect(nqnProblem(nqn)).toBeNull();
  });

  it.each([
    ['', 'empty'],
    ['iqn.2014-08.org.x', 'does not start with "nqn."'],
    ['nqn.2014-08.org.x:a,b', "','"],
    ['nqn.2014-08.org.x:a=b', "'='"],
    ['nqn.2014-08.org.x:a b', 'blank'],
    ['nqn.2014-13.org.x', 'not of the form'],
    ['nqn.14-08.org.x', 'not of the form'],
    [`nqn.2014-08.org.x:${'a'.repeat(220)}`, 'too long'],
  ])('rejects %j (%s)', (nqn, why) => {
    expect(nqnProblem(nqn)).toContain(why);
  });

  it('accepts exactly 223 bytes', () => {
    const nqn = `nqn.2014-08.org.x:${'a'.repeat(223 - 18)}`;
    expect(nqn).toHaveLength(223);
    expect(nqnProblem(nqn)).toBeNull();
  });
});

describe('hostIdProblem', () => {
  it('accepts UUIDs in either case', () => {
    expect(hostIdProblem('3da64a01-16c5-4e10-ac46-397e2372b964')).toBeNull();
    expect(hostIdProblem('3DA64A01-16C5-4E10-AC46-397E2372B964')).toBeNull();
  });

  it('rejects anything else', () => {
    expect(hostIdProblem('3da64a0116c54e10ac46397e2372b964')).toContain('not a UUID');
    expect(hostIdProblem('')).toContain('not a UUID');
  });
});

describe('uuidOfHostNqn / hostNqnForUuid', () => {
  it('round-trips the UUID form', () => {
    const nqn = hostNqnForUuid('3DA64A01-16C5-4E10-AC46-397E2372B964');
    expect(nqn).toBe('nqn.2014-08.org.nvmexpress:uuid:3da64a01-16c5-4e10-ac46-397e2372b964');
    expect(uuidOfHostNqn(nqn)).toBe('3da64a01-16c5-4e10-ac46-397e2372b964');
  });

  it('returns null for other NQNs', () => {
    expect(uuidOfHostNqn('nqn.1988-11.com.dell:host1')).toBeNull();
  });
});
