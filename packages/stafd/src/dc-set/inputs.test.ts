import { describe, expect, it } from 'vitest';
import { parseStafdConf } from '@stas/common/config/stafd-conf';
import { createTid } from '@stas/common/nvme/tid';
import { nvmeEntry, referralEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { browsedService } from '../dc/test-support.js';
import {
  announcedDcs,
  configuredTid,
  dcSettings,
  planPolicy,
  referralSignature,
  referralTids,
  sameSettings,
} from './inputs.js';

const HOST = {
  hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001',
  hostid: '00000000-0000-4000-8000-000000000001',
};
const IDENTITY = { ...HOST, hostkey: null, symname: 'box' };
const TUNING = { pollMs: 60_000, maxReferralDepth: 5 };
const conf = (text: string) => parseStafdConf(text, 'stafd.conf').config;

describe('configuredTid', () => {
  it('completes a controller= TID with the system identity and erases host-iface under ignore-iface', () => {
    const [c] = conf(
      '[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1;host-iface=eth0\n',
    ).controllers;
    if (c === undefined) throw new Error('no controller');
    expect(configuredTid(c, HOST, false)).toMatchObject({
      hostNqn: HOST.hostnqn,
      hostId: HOST.hostid,
      hostIface: 'eth0',
    });
    expect(configuredTid(c, HOST, true).hostIface).toBe('');
  });

  it('keeps a host-nqn given on the controller= line', () => {
    const [c] = conf(
      '[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1;host-nqn=nqn.2024-01.io.test:other\n',
    ).controllers;
    if (c === undefined) throw new Error('no controller');
    expect(configuredTid(c, HOST, false)).toMatchObject({
      hostNqn: 'nqn.2024-01.io.test:other',
      hostId: HOST.hostid,
    });
  });
});

describe('referralTids', () => {
  const referrer = createTid(
    {
      transport: 'tcp',
      traddr: '192.0.2.1',
      hostIface: 'eth1',
      hostTraddr: '192.0.2.200',
      hostNqn: HOST.hostnqn,
      hostId: HOST.hostid,
    },
    { role: 'discovery' },
  );

  it('turns referral entries into TIDs inheriting the referrer host fields, once each', () => {
    const ref = referralEntry({ host: '192.0.2.50', port: 8010 });
    const tids = referralTids([nvmeEntry({ traddr: '192.0.2.9', subnqn: 'nqn.x' }), ref, ref], referrer);
    expect(tids).toHaveLength(1);
    expect(tids[0]).toMatchObject({
      traddr: '192.0.2.50',
      trsvcid: '8010',
      hostIface: 'eth1',
      hostTraddr: '192.0.2.200',
      hostNqn: HOST.hostnqn,
    });
  });

  it('describes the referrals of a page as a comparable signature; unknown is null', () => {
    const ref = referralEntry({ host: '192.0.2.50', port: 8010 });
    const a = nvmeEntry({ traddr: '192.0.2.9', subnqn: 'nqn.x' });
    expect(referralSignature(null)).toBeNull();
    expect(referralSignature([a])).toBe('');
    expect(referralSignature([a, ref])).toBe(referralSignature([ref]));
    expect(referralSignature([ref])).not.toBe(referralSignature([]));
  });
});

describe('announcedDcs', () => {
  it('pins mDNS DCs to their interface unless ignore-iface, and rejects unusable services', () => {
    const good = browsedService('192.0.2.9', 8009, 'eth0');
    const rdma = { ...browsedService('192.0.2.8', 4420), txt: new Map([['p', 'roce']]) };
    const result = announcedDcs([good, rdma, good], HOST, false);
    expect(result.tids.map((t) => [t.traddr, t.hostIface, t.hostNqn])).toEqual([
      ['192.0.2.9', 'eth0', HOST.hostnqn],
    ]);
    expect(result.rejected).toHaveLength(1);
    expect(announcedDcs([good], HOST, true).tids[0]?.hostIface).toBe('');
  });
});

describe('settings and policy', () => {
  it('derives the DC settings from [Global], the controller= overrides and the identity', () => {
    const c = conf(
      '[Global]\nkato = 12\ndata-digest = true\npleo = disabled\n[Discovery controller connection management]\npersistent-connections = false\n[Controllers]\ncontroller = transport=tcp;traddr=192.0.2.1;kato=7\n',
    );
    const settings = dcSettings(c, IDENTITY, c.controllers[0] ?? null, TUNING);
    expect(settings).toMatchObject({ symname: 'box', katoMs: 7000, ddgst: true, hdgst: false, pleo: false });
    expect(settings.maxEntries).toBe(65_536);
    expect(settings.policy.persistent).toBe(false);
    expect(dcSettings(c, IDENTITY, null, TUNING).katoMs).toBe(12_000);
    expect(sameSettings(settings, dcSettings(c, IDENTITY, c.controllers[0] ?? null, TUNING))).toBe(true);
    expect(sameSettings(settings, dcSettings(c, { ...IDENTITY, symname: null }, null, TUNING))).toBe(false);
    const limited = conf('[Limits]\nmax-log-page-entries = 10\n');
    expect(dcSettings(limited, IDENTITY, null, TUNING).maxEntries).toBe(10);
    expect(
      sameSettings(dcSettings(c, IDENTITY, null, TUNING), {
        ...dcSettings(c, IDENTITY, null, TUNING),
        maxEntries: 10,
      }),
    ).toBe(false);
  });

  it('uses 30 s KATO by default and the persistence and ip-family of stafd.conf', () => {
    const c = conf(
      '[Global]\nip-family = ipv6\n[Discovery controller connection management]\nzeroconf-connections-persistence = 2m\n',
    );
    expect(dcSettings(c, IDENTITY, null, TUNING).katoMs).toBe(30_000);
    expect(planPolicy(c, TUNING)).toEqual({ ipFamily: [6], persistenceSec: 120, maxReferralDepth: 5 });
  });
});
