/**
 * The data a simulated discovery controller returns: the Discovery Log Page image (LID 0x70, with the
 * PLEO filter and the extended-entry format when asked for and supported), the Supported Log Pages log
 * (LID 0x00), the Identify Controller data, and zero-filled slices of an image at a log page offset.
 *
 * Pure: values in, bytes out; no sockets, timers or logging. Encoders of nvme/wire/ do the byte work;
 * they throw WireError WIRE_ENCODE_RANGE for entries whose fields do not fit (a test bug).
 *
 * Used by: dc-sim-connection.ts
 * Tests:   dc-sim-log.test.ts
 */
import {
  AsyncEventConfig,
  DiscoveryLspSupport,
  LogPageId,
  encodeSupportedLogPages,
} from '../../nvme/wire/admin-cmd.js';
import {
  DLP_ENTRY_SIZE,
  DLP_HEADER_SIZE,
  encodeDiscoveryLog,
  type DiscoveryLogEntry,
} from '../../nvme/wire/discovery-log.js';
import {
  LPA_EXTENDED_DATA,
  emptyIdentifyController,
  encodeIdentifyController,
} from '../../nvme/wire/identify-ctrl.js';
import { DCTYPE_VALUE, type ResolvedDcSimOptions } from './dc-sim-options.js';

/** DLPF bits (header byte 18). */
export const Dlpf = { EXTEND: 0x1, PORTLCL: 0x2 } as const;

/** Size of an extended entry without attributes: base + TEL + NUMEXAT + reserved. */
export const EXTENDED_ENTRY_SIZE = 1032;

export interface DiscoveryLogRequest {
  readonly genctr: bigint;
  readonly entries: readonly DiscoveryLogEntry[];
  /** Return only port-local entries (LSP PLEO, when supported). */
  readonly portLocalOnly: boolean;
  readonly isPortLocal: (entry: DiscoveryLogEntry) => boolean;
  /** Extended entry format (LSP EXTDLPE, when supported). */
  readonly extended: boolean;
}

/**
 * The whole log image: 1024-byte header, then the entries (1024 bytes each, or 1032 bytes each in the
 * extended format: TEL 1032, NUMEXAT 0; header DLPF b0 and TDLPL set). PLEO sets DLPF b1.
 */
export function discoveryLogImage(req: DiscoveryLogRequest): Uint8Array {
  const entries = req.portLocalOnly ? req.entries.filter((e) => req.isPortLocal(e)) : req.entries;
  const dlpf = (req.portLocalOnly ? Dlpf.PORTLCL : 0) | (req.extended ? Dlpf.EXTEND : 0);
  const basic = encodeDiscoveryLog({ genctr: req.genctr, entries, dlpf });
  if (!req.extended) return basic;
  const total = DLP_HEADER_SIZE + entries.length * EXTENDED_ENTRY_SIZE;
  const image = new Uint8Array(total);
  image.set(basic.subarray(0, DLP_HEADER_SIZE));
  const view = new DataView(image.buffer);
  view.setUint32(20, total, true); // TDLPL
  for (let i = 0; i < entries.length; i++) {
    const from = DLP_HEADER_SIZE + i * DLP_ENTRY_SIZE;
    const to = DLP_HEADER_SIZE + i * EXTENDED_ENTRY_SIZE;
    image.set(basic.subarray(from, from + DLP_ENTRY_SIZE), to);
    view.setUint32(to + DLP_ENTRY_SIZE, EXTENDED_ENTRY_SIZE, true); // TEL; NUMEXAT stays 0
  }
  return image;
}

/** `length` bytes of `image` from `offset`; bytes past the end of the image read as zero. */
export function sliceImage(image: Uint8Array, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  if (offset < image.length) out.set(image.subarray(offset, Math.min(image.length, offset + length)));
  return out;
}

/** LID 0x00: LID 0x00 and 0x70 supported, with the LSP support bits of LID 0x70. */
export function supportedLogPagesImage(opts: Pick<ResolvedDcSimOptions, 'logPages'>): Uint8Array {
  const lidsp =
    (opts.logPages.extdlpe ? DiscoveryLspSupport.EXTDLPES : 0) |
    (opts.logPages.pleo ? DiscoveryLspSupport.PLEOS : 0) |
    (opts.logPages.allsube ? DiscoveryLspSupport.ALLSUBES : 0);
  return encodeSupportedLogPages([
    { lid: LogPageId.SupportedLogPages, lsupp: true, ios: false, lidsp: 0 },
    { lid: LogPageId.Discovery, lsupp: true, ios: false, lidsp },
  ]);
}

/** Identify Controller data as the simulated DC reports it for controller `cntlid`. */
export function identifyControllerData(opts: ResolvedDcSimOptions, cntlid: number): Uint8Array {
  return encodeIdentifyController({
    ...emptyIdentifyController(),
    sn: 'dcsim0001',
    mn: 'stas dc-simulator',
    fr: '1.0',
    mdts: opts.mdts,
    cntlid,
    ver: opts.version,
    oaes: opts.aen ? AsyncEventConfig.DLPCN : 0,
    cntrltype: opts.cntrltype,
    aerl: opts.aerl,
    lpa: opts.lpaExtendedData ? LPA_EXTENDED_DATA : 0,
    maxcmd: 128,
    // SGLs supported (b0) and offset-based in-capsule data (b20).
    sgls: opts.inCapsuleDataSize > 0 ? 0x0010_0001 : 0x1,
    subnqn: opts.subnqn,
    dctype: DCTYPE_VALUE[opts.dctype],
    ...opts.identify,
  });
}
