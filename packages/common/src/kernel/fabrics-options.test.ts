import { describe, expect, it } from 'vitest';
import { KERNEL_6_1_OPTION_LIST } from '../testing/fake-fabrics.js';
import {
  classicFabricsOptions,
  fabricsOptionsFromRead,
  kernelVersion,
  parseFabricsOptions,
} from './fabrics-options.js';

describe('parseFabricsOptions', () => {
  it('lists the option names of the kernel 6.1 read, without instance and cntlid', () => {
    const names = parseFabricsOptions(KERNEL_6_1_OPTION_LIST);
    expect([...names]).toEqual([
      'transport',
      'traddr',
      'trsvcid',
      'nqn',
      'queue_size',
      'nr_io_queues',
      'reconnect_delay',
      'ctrl_loss_tmo',
      'keep_alive_tmo',
      'hostnqn',
      'host_traddr',
      'host_iface',
      'hostid',
      'duplicate_connect',
      'disable_sqflow',
      'hdr_digest',
      'data_digest',
      'nr_write_queues',
      'nr_poll_queues',
      'tos',
      'fast_io_fail_tmo',
      'discovery',
      'dhchap_secret',
      'dhchap_ctrl_secret',
    ]);
  });

  it('reads the behaviour spec vector (flags and %s options alike)', () => {
    expect(parseFabricsOptions('host_iface=%s,discovery,dhchap_secret=%s,dhchap_ctrl_secret=%s\n')).toEqual(
      new Set(['host_iface', 'discovery', 'dhchap_secret', 'dhchap_ctrl_secret']),
    );
  });

  it('reads only the first line and trims blanks', () => {
    expect(parseFabricsOptions(' tls , keyring=%d\nignored=%s\n')).toEqual(new Set(['tls', 'keyring']));
  });

  it('gives an empty set for empty text', () => {
    expect(parseFabricsOptions('')).toEqual(new Set());
  });
});

describe('classicFabricsOptions (kernels that cannot list their options)', () => {
  it('adds host_iface from 5.14 and discovery from 5.16, never dhchap', () => {
    const v513 = classicFabricsOptions('5.13.0-1-amd64');
    const v514 = classicFabricsOptions('5.14.21-150400.24.46-default');
    const v516 = classicFabricsOptions('5.16.0');
    expect(v513.has('fast_io_fail_tmo')).toBe(true);
    expect(v513.has('host_iface')).toBe(false);
    expect(v514.has('host_iface')).toBe(true);
    expect(v514.has('discovery')).toBe(false);
    expect(v516.has('discovery')).toBe(true);
    expect([...v516].some((n) => n.startsWith('dhchap'))).toBe(false);
  });

  it('keeps only the 4.20 set for an old or unparsable release', () => {
    expect(classicFabricsOptions('4.19.0').has('fast_io_fail_tmo')).toBe(false);
    expect(classicFabricsOptions('weird')).toEqual(classicFabricsOptions('4.20.0'));
    expect(classicFabricsOptions('weird').has('hostid')).toBe(true);
  });

  it('parses release strings component-wise', () => {
    expect(kernelVersion('6.12.95+deb12-amd64')).toEqual([6, 12]);
    expect(kernelVersion('v6.1')).toBeNull();
  });
});

describe('fabricsOptionsFromRead', () => {
  it('uses the listed options when the read succeeds', () => {
    expect(fabricsOptionsFromRead({ ok: true, text: 'instance=-1,cntlid=-1,tls\n' }, '6.12.0')).toEqual({
      options: new Set(['tls']),
      source: 'kernel',
    });
  });

  it('falls back to the classic set on EINVAL (kernels before 5.17)', () => {
    expect(fabricsOptionsFromRead({ ok: false, errno: 'EINVAL' }, '5.15.0')).toEqual({
      options: classicFabricsOptions('5.15.0'),
      source: 'classic',
    });
  });

  it('gives null for any other failure (nothing can be connected)', () => {
    expect(fabricsOptionsFromRead({ ok: false, errno: 'ENOENT' }, '6.1.0')).toBeNull();
    expect(fabricsOptionsFromRead({ ok: false, errno: 'EACCES' }, '6.1.0')).toBeNull();
  });
});
