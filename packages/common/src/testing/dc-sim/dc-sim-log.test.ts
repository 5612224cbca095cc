import { describe, expect, it } from 'vitest';
import { decodeSupportedLogPages } from '../../nvme/wire/admin-cmd.js';
import { decodeDiscoveryLog, decodeDiscoveryLogHeader } from '../../nvme/wire/discovery-log.js';
import { decodeIdentifyController } from '../../nvme/wire/identify-ctrl.js';
import { nvmeEntry } from './dc-sim-entries.js';
import {
  EXTENDED_ENTRY_SIZE,
  discoveryLogImage,
  identifyControllerData,
  sliceImage,
  supportedLogPagesImage,
} from './dc-sim-log.js';
import { resolveOptions } from './dc-sim-options.js';

const A = nvmeEntry({ traddr: '10.0.0.1', subnqn: 'nqn.2024-01.io.example:a' });
const B = nvmeEntry({ traddr: '10.0.0.2', subnqn: 'nqn.2024-01.io.example:b', portid: 2 });
const base = {
  genctr: 5n,
  entries: [A, B],
  portLocalOnly: false,
  isPortLocal: (e: typeof A) => e.portid === 1,
  extended: false,
};

describe('discoveryLogImage', () => {
  it('encodes header and entries', () => {
    expect(decodeDiscoveryLog(discoveryLogImage(base))).toEqual({
      header: { genctr: 5n, numrec: 2n, recfmt: 0, dlpf: 0 },
      entries: [A, B],
    });
  });

  it('keeps only port-local entries and sets DLPF PORTLCL with PLEO', () => {
    const log = decodeDiscoveryLog(discoveryLogImage({ ...base, portLocalOnly: true }));
    expect(log.entries).toEqual([A]);
    expect(log.header.dlpf).toBe(0x2);
  });

  it('writes extended entries with TEL and TDLPL', () => {
    const image = discoveryLogImage({ ...base, extended: true });
    const view = new DataView(image.buffer);
    expect(image.length).toBe(1024 + 2 * EXTENDED_ENTRY_SIZE);
    expect(decodeDiscoveryLogHeader(image).dlpf).toBe(0x1);
    expect(view.getUint32(20, true)).toBe(image.length);
    expect(view.getUint32(1024 + EXTENDED_ENTRY_SIZE + 1024, true)).toBe(EXTENDED_ENTRY_SIZE);
  });
});

describe('sliceImage', () => {
  it('reads zeros past the end', () => {
    const s = sliceImage(Uint8Array.from([1, 2, 3, 4]), 2, 4);
    expect(Array.from(s)).toEqual([3, 4, 0, 0]);
    expect(Array.from(sliceImage(Uint8Array.from([1]), 8, 2))).toEqual([0, 0]);
  });
});

describe('supportedLogPagesImage', () => {
  it('lists LID 0 and 0x70 with the supported LSP bits', () => {
    const pages = decodeSupportedLogPages(
      supportedLogPagesImage(resolveOptions({ logPages: { pleo: true, extdlpe: true } })),
    );
    expect(pages).toEqual([
      { lid: 0, lsupp: true, ios: false, lidsp: 0 },
      { lid: 0x70, lsupp: true, ios: false, lidsp: 0x3 },
    ]);
  });
});

describe('identifyControllerData', () => {
  it('reports the options and applies overrides last', () => {
    const o = resolveOptions({ dctype: 'ddc', mdts: 3, aen: false, identify: { kas: 10, ctratt: 0x40 } });
    const id = decodeIdentifyController(identifyControllerData(o, 9));
    expect(id).toMatchObject({ cntlid: 9, dctype: 1, mdts: 3, oaes: 0, kas: 10, ctratt: 0x40, cntrltype: 2 });
  });
});
