import { describe, expect, it } from 'vitest';
import { StasError } from '../../errors.js';
import { makeSqe } from '../../nvme/wire/sqe.js';
import { nvmeEntry } from './dc-sim-entries.js';
import { checkFaults, commandName, resolveOptions } from './dc-sim-options.js';

describe('resolveOptions', () => {
  it('defaults to what an nvmet discovery controller reports', () => {
    const o = resolveOptions();
    expect(o).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      subnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      acceptWellKnownNqn: true,
      dctype: 'none',
      cntrltype: 2,
      mdts: 0,
      maxC2HDataBytes: 0,
      digests: { hdgst: true, ddgst: true },
      acceptHpda: false,
      maxH2CData: 0x400000,
      kato: { zeroKatoMs: 120_000, trafficBased: true, roundUpToSeconds: false },
      aen: true,
      aerl: 3,
      lpaExtendedData: true,
      logPages: { supportedLogPages: false, pleo: false, extdlpe: false, allsube: false },
      genctr: 1n,
      firstCntlid: 1,
    });
  });

  it('answers LID 0 as soon as one LSP option is supported', () => {
    expect(resolveOptions({ logPages: { pleo: true } }).logPages.supportedLogPages).toBe(true);
  });

  it('treats entries with the DC PORTID as port-local unless told otherwise', () => {
    const local = nvmeEntry({ traddr: '10.0.0.1', subnqn: 'nqn.2024-01.io.example:a', portid: 7 });
    expect(resolveOptions({ portid: 7 }).isPortLocal(local)).toBe(true);
    expect(resolveOptions().isPortLocal(local)).toBe(false);
    expect(resolveOptions({ isPortLocal: () => true }).isPortLocal(local)).toBe(true);
  });

  it.each([
    [{ port: 70000 }],
    [{ mdts: -1 }],
    [{ cpda: 32 }],
    [{ genctr: -1n }],
    [{ subnqn: '' }],
    [{ faults: { responseDelayMs: 1.5 } }],
  ])('refuses %o with DCSIM_BAD_OPTION', (options) => {
    expect(() => resolveOptions(options)).toThrow(StasError);
    expect(() => resolveOptions(options)).toThrow(/DC simulator/);
  });
});

describe('checkFaults', () => {
  it('accepts a full plan and Infinity as times', () => {
    const plan = {
      disconnect: { afterBytes: 100, times: Infinity },
      genctrRace: { times: 3 },
      refuseConnect: { status: 0x4184, times: Infinity },
    };
    expect(checkFaults(plan)).toBe(plan);
  });

  it('refuses a negative skip', () => {
    expect(() => checkFaults({ stall: { skip: -1 } })).toThrow(StasError);
  });
});

describe('commandName', () => {
  it.each([
    [0x7f, 0x01, 'connect'],
    [0x7f, 0x04, 'property-get'],
    [0x7f, 0x00, 'property-set'],
    [0x7f, 0x0a, 'fabrics-0x0a'],
    [0x02, 0, 'get-log-page'],
    [0x0c, 0, 'aer'],
    [0x18, 0, 'keep-alive'],
    [0x21, 0, 'dim'],
    [0x80, 0, 'opcode-0x80'],
  ])('names opcode 0x%s (byte 4 0x%s) %s', (opc, nsid, name) => {
    expect(commandName(makeSqe({ opc, nsid, cid: 1 }))).toBe(name);
  });
});
