import { describe, expect, it } from 'vitest';
import {
  CONNECT_FAILURE_KINDS,
  connectOutcomeFromErrno,
  connectOutcomeFromReply,
  deviceNameOf,
  disconnectOutcome,
  errnoName,
  errnoNumber,
  isDeviceName,
} from './fabrics-outcome.js';

describe('connectOutcomeFromReply', () => {
  it('parses the kernel reply into the new device', () => {
    expect(connectOutcomeFromReply('instance=3,cntlid=17\n')).toEqual({
      ok: true,
      kind: 'connected',
      device: 'nvme3',
      instance: 3,
      cntlid: 17,
    });
  });

  it('reads only the first line', () => {
    expect(connectOutcomeFromReply('instance=0,cntlid=1\nnqn=leftover')).toMatchObject({
      ok: true,
      instance: 0,
    });
  });

  it.each([
    '',
    'instance=-1,cntlid=-1',
    'instance=1',
    'instance=a,cntlid=1',
    'cntlid=1,instance=2',
    'instance=1,cntlid=70000',
  ])('calls %j a bad reply', (reply) => {
    expect(connectOutcomeFromReply(reply)).toMatchObject({
      ok: false,
      kind: 'bad-reply',
      stage: 'reply',
      errno: '',
    });
  });
});

describe('connectOutcomeFromErrno', () => {
  it('treats EALREADY on the write as already connected, not a failure', () => {
    expect(connectOutcomeFromErrno(114, 'write')).toEqual({ ok: true, kind: 'already-connected' });
    expect(connectOutcomeFromErrno(-114, 'write')).toEqual({ ok: true, kind: 'already-connected' });
  });

  it.each([
    [22, 'EINVAL', 'invalid-argument', false],
    [111, 'ECONNREFUSED', 'connection-refused', true],
    [110, 'ETIMEDOUT', 'timed-out', true],
    [113, 'EHOSTUNREACH', 'host-unreachable', true],
    [101, 'ENETUNREACH', 'network-unreachable', true],
    [19, 'ENODEV', 'no-such-interface', false],
    [98, 'EADDRINUSE', 'duplicate-hostnqn', false],
    [99, 'EADDRNOTAVAIL', 'address-not-available', true],
    [126, 'ENOKEY', 'key-rejected', false],
    [127, 'EKEYEXPIRED', 'key-rejected', false],
    [128, 'EKEYREVOKED', 'key-rejected', false],
    [129, 'EKEYREJECTED', 'key-rejected', false],
    [95, 'EOPNOTSUPP', 'not-supported', false],
    [5, 'EIO', 'io-error', true],
    [13, 'EACCES', 'permission-denied', false],
    [12, 'ENOMEM', 'other', true],
    [4, 'EINTR', 'other', true],
    [250, 'ERRNO_250', 'other', false],
  ])('maps errno %i on the write to %s / %s', (n, name, kind, transient) => {
    expect(connectOutcomeFromErrno(n, 'write')).toMatchObject({
      ok: false,
      kind,
      errno: name,
      transient,
      stage: 'write',
    });
  });

  it('calls a missing fabrics device at open "no-fabrics-device"', () => {
    for (const n of [2, 6, 19]) {
      expect(connectOutcomeFromErrno(n, 'open')).toMatchObject({
        ok: false,
        kind: 'no-fabrics-device',
        stage: 'open',
      });
    }
  });

  it('does not treat EALREADY at open or read as success', () => {
    expect(connectOutcomeFromErrno(114, 'read')).toMatchObject({ ok: false, kind: 'other' });
  });

  it('puts the detail in the message', () => {
    expect(connectOutcomeFromErrno(22, 'write', '/dev/nvme-fabrics')).toMatchObject({
      message: 'write failed with EINVAL: /dev/nvme-fabrics',
    });
  });

  it('covers every failure kind with a mapping or a special case', () => {
    const produced = new Set<string>(['bad-reply', 'no-fabrics-device']);
    for (let n = 1; n < 140; n++) {
      const o = connectOutcomeFromErrno(n, 'write');
      if (!o.ok) produced.add(o.kind);
    }
    expect([...produced].sort()).toEqual([...CONNECT_FAILURE_KINDS].sort());
  });
});

describe('disconnectOutcome', () => {
  it('is deleted on success and already-gone when the controller vanished', () => {
    expect(disconnectOutcome(undefined)).toEqual({ ok: true, kind: 'deleted' });
    expect(disconnectOutcome(2)).toEqual({ ok: true, kind: 'already-gone' });
    expect(disconnectOutcome(19)).toEqual({ ok: true, kind: 'already-gone' });
  });

  it('is a failure with the errno name otherwise', () => {
    expect(disconnectOutcome(13, '/sys/x')).toEqual({
      ok: false,
      kind: 'failed',
      errno: 'EACCES',
      message: 'delete_controller failed with EACCES: /sys/x',
    });
  });
});

describe('names', () => {
  it('round-trips errno names and numbers', () => {
    expect(errnoName(-126)).toBe('ENOKEY');
    expect(errnoNumber('EKEYREJECTED')).toBe(129);
    expect(errnoNumber('EWHAT')).toBeUndefined();
  });

  it('accepts nvme<N> device names only', () => {
    expect(isDeviceName('nvme0')).toBe(true);
    expect(isDeviceName('nvme12')).toBe(true);
    for (const bad of ['nvme', 'nvme01', 'nvme0n1', '../nvme0', 'nvme-fabrics', 'nvme1 ']) {
      expect(isDeviceName(bad)).toBe(false);
    }
    expect(deviceNameOf(7)).toBe('nvme7');
    expect(() => deviceNameOf(-1)).toThrow(RangeError);
  });
});
