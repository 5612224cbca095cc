/**
 * Typed records of NVMe controllers and subsystems from the raw contents of
 * /sys/class/nvme/nvme<N>/ and /sys/class/nvme-subsystem/nvme-subsys<K>/
 * (wire digest §9.2), and the discovery/I-O classification.
 *
 * Pure: raw attribute text and directory entry names in, records out. Never
 * throws. An attribute the kernel does not have (older kernels: cntrltype,
 * dctype before 5.18, src_addr before 6.1) or could not be read is
 * `undefined`; the value `none` in the address (fc trsvcid, unset host
 * fields) is ''; `off` in a timeout attribute is null.
 *
 * Classification (fixes behaviour spec §9 F7): `cntrltype` decides when the
 * kernel has it (`io` is never a discovery controller, whatever its
 * namespaces); then the subsystem's `subsystype`; then the well-known
 * discovery NQN; only on kernels with none of those, "no namespaces" means
 * discovery (nvme-stas's heuristic).
 *
 * Used by: sysfs.ts, controller-match.ts. Tests: sysfs-parse.test.ts
 */
import { WELL_KNOWN_DISCOVERY_NQN } from '../nvme/tid.js';
import type { DeviceName } from './fabrics-outcome.js';
import { isDeviceName } from './fabrics-outcome.js';

/** Controller attributes read by sysfs.ts. */
export const CONTROLLER_ATTRIBUTES = [
  'transport',
  'address',
  'subsysnqn',
  'state',
  'cntrltype',
  'dctype',
  'hostnqn',
  'hostid',
  'kato',
  'cntlid',
  'model',
  'serial',
  'firmware_rev',
  'ctrl_loss_tmo',
  'reconnect_delay',
  'fast_io_fail_tmo',
] as const;
export type ControllerAttribute = (typeof CONTROLLER_ATTRIBUTES)[number];

/** Subsystem attributes read by sysfs.ts. */
export const SUBSYSTEM_ATTRIBUTES = [
  'subsysnqn',
  'subsystype',
  'model',
  'serial',
  'firmware_rev',
  'iopolicy',
] as const;
export type SubsystemAttribute = (typeof SUBSYSTEM_ATTRIBUTES)[number];

/** What sysfs.ts found in one directory: attribute files (undefined = absent/unreadable) and entry names. */
export interface RawDirectory<A extends string> {
  readonly name: string;
  readonly attrs: Readonly<Partial<Record<A, string>>>;
  readonly entries: readonly string[];
}

/** The `address` attribute; '' for a field that is absent or `none`. */
export interface ControllerAddress {
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
  /** Local address of the connected socket (tcp, kernel ≥ 6.1, only while connected). */
  readonly srcAddr: string;
  /** Fields this parser does not know, verbatim. */
  readonly extra: Readonly<Record<string, string>>;
}

export interface NvmeSubsystem {
  /** `nvme-subsys<K>`. */
  readonly name: string;
  readonly subsysnqn: string | undefined;
  /** `nvm` or `discovery` (newer kernels). */
  readonly subsystype: string | undefined;
  readonly model: string | undefined;
  readonly serial: string | undefined;
  readonly firmwareRev: string | undefined;
  readonly iopolicy: string | undefined;
  /** Controllers of this subsystem (`nvme<N>`), sorted by instance. */
  readonly controllers: readonly DeviceName[];
  /** Namespace block devices of the subsystem (multipath heads, `nvme<K>n<M>`), sorted. */
  readonly namespaces: readonly string[];
}

export interface NvmeController {
  readonly device: DeviceName;
  readonly instance: number;
  /** `tcp`, `rdma`, `fc`, `loop` or `pcie`. */
  readonly transport: string | undefined;
  readonly address: ControllerAddress | undefined;
  readonly subsysnqn: string | undefined;
  /** `live`, `connecting`, `resetting`, `deleting`, `deleting (no IO)`, `dead`, `new`. */
  readonly state: string | undefined;
  /** `io`, `discovery`, `admin` (kernel ≥ 5.18). */
  readonly cntrltype: string | undefined;
  /** `none`, `ddc`, `cdc` (kernel ≥ 5.18). */
  readonly dctype: string | undefined;
  readonly hostnqn: string | undefined;
  readonly hostid: string | undefined;
  readonly katoSec: number | undefined;
  readonly cntlid: number | undefined;
  readonly model: string | undefined;
  readonly serial: string | undefined;
  readonly firmwareRev: string | undefined;
  /** null = `off` (reconnect forever). */
  readonly ctrlLossTmoSec: number | null | undefined;
  readonly reconnectDelaySec: number | null | undefined;
  readonly fastIoFailTmoSec: number | null | undefined;
  /** Namespace entries in the controller directory: `nvme<K>c<N>n<M>` (multipath paths) or `nvme<N>n<M>`. */
  readonly namespacePaths: readonly string[];
  /** Block devices of this controller's namespaces: the path entries mapped to their heads, sorted. */
  readonly namespaces: readonly string[];
  /** The subsystem listing this controller, if any. */
  readonly subsystem: NvmeSubsystem | undefined;
}

function text(value: string | undefined): string | undefined {
  return value?.trim();
}

/** A decimal attribute; `off` → null; anything else unparsable → undefined. */
function seconds(value: string | undefined): number | null | undefined {
  const t = text(value);
  if (t === undefined) return undefined;
  if (t === 'off') return null;
  return /^-?\d+$/.test(t) ? Number(t) : undefined;
}

function integer(value: string | undefined): number | undefined {
  const t = text(value);
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
}

function noneToEmpty(value: string | undefined): string {
  if (value === undefined) return '';
  const t = value.trim();
  return t.toLowerCase() === 'none' ? '' : t;
}

/** Parse the `address` attribute (`traddr=…,trsvcid=…[,host_traddr=…][,host_iface=…][,src_addr=…]`). */
export function parseControllerAddress(raw: string): ControllerAddress {
  const fields = new Map<string, string>();
  for (const part of raw.trim().split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1));
  }
  const known = new Set(['traddr', 'trsvcid', 'host_traddr', 'host_iface', 'src_addr']);
  const extra: Record<string, string> = {};
  for (const [k, v] of fields) if (!known.has(k)) extra[k] = v.trim();
  return {
    traddr: noneToEmpty(fields.get('traddr')),
    trsvcid: noneToEmpty(fields.get('trsvcid')),
    hostTraddr: noneToEmpty(fields.get('host_traddr')),
    hostIface: noneToEmpty(fields.get('host_iface')),
    srcAddr: noneToEmpty(fields.get('src_addr')),
    extra,
  };
}

const INSTANCE = /^nvme(\d+)$/;
const HEAD = /^nvme(\d+)n(\d+)$/;
const PATH = /^nvme(\d+)c(\d+)n(\d+)$/;

function byNumbers(a: string, b: string): number {
  const na = (a.match(/\d+/g) ?? []).map(Number);
  const nb = (b.match(/\d+/g) ?? []).map(Number);
  for (let i = 0; i < Math.max(na.length, nb.length); i++) {
    const d = (na[i] ?? -1) - (nb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The block device of a namespace entry: `nvme0c1n2` → `nvme0n2`; `nvme3n1` stays. */
export function namespaceBlockDevice(entry: string): string | undefined {
  const path = PATH.exec(entry);
  if (path !== null) return `nvme${path[1] ?? ''}n${path[3] ?? ''}`;
  return HEAD.test(entry) ? entry : undefined;
}

export function parseSubsystem(raw: RawDirectory<SubsystemAttribute>): NvmeSubsystem {
  const controllers = raw.entries.filter(isDeviceName).sort(byNumbers);
  return {
    name: raw.name,
    subsysnqn: text(raw.attrs.subsysnqn),
    subsystype: text(raw.attrs.subsystype),
    model: text(raw.attrs.model),
    serial: text(raw.attrs.serial),
    firmwareRev: text(raw.attrs.firmware_rev),
    iopolicy: text(raw.attrs.iopolicy),
    controllers,
    namespaces: raw.entries.filter((e) => HEAD.test(e)).sort(byNumbers),
  };
}

/** A controller record, or undefined when `raw.name` is not `nvme<N>`. */
export function parseController(
  raw: RawDirectory<ControllerAttribute>,
  subsystems: readonly NvmeSubsystem[] = [],
): NvmeController | undefined {
  const m = INSTANCE.exec(raw.name);
  if (m === null || !isDeviceName(raw.name)) return undefined;
  const device = raw.name;
  const a = raw.attrs;
  const namespacePaths = raw.entries.filter((e) => PATH.test(e) || HEAD.test(e)).sort(byNumbers);
  const namespaces = [
    ...new Set(namespacePaths.map(namespaceBlockDevice).filter((d): d is string => d !== undefined)),
  ].sort(byNumbers);
  return {
    device,
    instance: Number(m[1]),
    transport: text(a.transport),
    address: a.address === undefined ? undefined : parseControllerAddress(a.address),
    subsysnqn: text(a.subsysnqn),
    state: text(a.state),
    cntrltype: text(a.cntrltype),
    dctype: text(a.dctype),
    hostnqn: text(a.hostnqn),
    hostid: text(a.hostid),
    katoSec: integer(a.kato),
    cntlid: integer(a.cntlid),
    model: text(a.model),
    serial: text(a.serial),
    firmwareRev: text(a.firmware_rev),
    ctrlLossTmoSec: seconds(a.ctrl_loss_tmo),
    reconnectDelaySec: seconds(a.reconnect_delay),
    fastIoFailTmoSec: seconds(a.fast_io_fail_tmo),
    namespacePaths,
    namespaces,
    subsystem: subsystems.find((s) => s.controllers.includes(device)),
  };
}

/** Fabric transports (everything stas may connect or disconnect); pcie and unknown are not. */
export function isFabricsController(c: NvmeController): boolean {
  return c.transport === 'tcp' || c.transport === 'rdma' || c.transport === 'fc' || c.transport === 'loop';
}

/** A discovery controller (see the module header for the order of evidence). */
export function isDiscoveryController(c: NvmeController): boolean {
  if (c.cntrltype !== undefined) return c.cntrltype === 'discovery';
  const subsystype = c.subsystem?.subsystype;
  if (subsystype !== undefined) return subsystype === 'discovery';
  if (c.subsysnqn === WELL_KNOWN_DISCOVERY_NQN) return true;
  const hasNamespaces = c.namespacePaths.length > 0 || (c.subsystem?.namespaces.length ?? 0) > 0;
  return !hasNamespaces;
}

/** An I/O controller (see the module header). */
export function isIoController(c: NvmeController): boolean {
  if (c.cntrltype !== undefined) return c.cntrltype === 'io';
  const subsystype = c.subsystem?.subsystype;
  if (subsystype !== undefined) return subsystype === 'nvm';
  if (c.subsysnqn === WELL_KNOWN_DISCOVERY_NQN) return false;
  return !isDiscoveryController(c);
}
