/**
 * Kernel uevents as typed values, from the two forms stas reads them in:
 * - a NETLINK_KOBJECT_UEVENT datagram: `action@devpath\0KEY=VALUE\0…`;
 * - a block of `udevadm monitor --kernel --property` output:
 *   `KERNEL[<time>] action devpath (subsystem)\nKEY=VALUE\n…` (blank-line ended).
 *
 * Pure and total: malformed input gives null, never a throw. A datagram is
 * accepted only when its header is `action@/devpath` and the properties agree
 * with it (ACTION, DEVPATH when present); properties without `=` or with an
 * empty key are skipped; a repeated key keeps its last value. udevd's own
 * `libudev\0…` messages (group 2) are not kernel uevents and give null. Bytes
 * are decoded as UTF-8 (invalid sequences become U+FFFD).
 *
 * NVMe events (wire digest §9.3): `add`/`remove` of `nvme<N>`; `change` with
 * NVME_EVENT=connected | rediscover, or NVME_AEN=<hex> (0x70f002 = discovery
 * log changed). `nvmeAenOf`/`nvmeEventOf` read those.
 *
 * Used by: uevents.ts. Tests: uevent-parse.test.ts, uevent-parse.prop.test.ts
 */

export interface Uevent {
  /** add, remove, change, move, online, offline, bind, unbind. */
  readonly action: string;
  /** Kernel object path under /sys, e.g. `/devices/virtual/nvme-fabrics/ctl/nvme0`. */
  readonly devpath: string;
  /** SUBSYSTEM, '' when absent. */
  readonly subsystem: string;
  /** SEQNUM, or undefined when absent or not a number. */
  readonly seqnum: number | undefined;
  /** All KEY=VALUE properties. */
  readonly properties: Readonly<Record<string, string>>;
}

/** Largest datagram the kernel sends (UEVENT_BUFFER_SIZE). */
export const UEVENT_BUFFER_SIZE = 2048;

const ACTIONS = new Set(['add', 'remove', 'change', 'move', 'online', 'offline', 'bind', 'unbind']);
const KEY = /^[A-Za-z0-9_]+$/;

function build(action: string, devpath: string, properties: Record<string, string>): Uevent | null {
  if (!ACTIONS.has(action) || !devpath.startsWith('/')) return null;
  if (properties['ACTION'] !== undefined && properties['ACTION'] !== action) return null;
  if (properties['DEVPATH'] !== undefined && properties['DEVPATH'] !== devpath) return null;
  const seqText = properties['SEQNUM'];
  const seqnum = seqText !== undefined && /^\d{1,15}$/.test(seqText) ? Number(seqText) : undefined;
  return { action, devpath, subsystem: properties['SUBSYSTEM'] ?? '', seqnum, properties };
}

function addProperty(properties: Record<string, string>, item: string): void {
  const eq = item.indexOf('=');
  if (eq <= 0) return;
  const key = item.slice(0, eq);
  if (!KEY.test(key)) return;
  properties[key] = item.slice(eq + 1);
}

/** A kernel netlink uevent datagram, or null. */
export function parseUeventDatagram(bytes: Uint8Array): Uevent | null {
  if (bytes.length === 0 || bytes.length > 64 * 1024) return null;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const parts = text.split('\0');
  const header = parts[0] ?? '';
  const at = header.indexOf('@');
  if (at <= 0) return null;
  const properties: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const item of parts.slice(1)) addProperty(properties, item);
  return build(header.slice(0, at), header.slice(at + 1), { ...properties });
}

const UDEVADM_HEADER = /^KERNEL\[[0-9.]+\]\s+(\S+)\s+(\S+)\s+\(([^)]*)\)\s*$/;

/** One blank-line-separated block of `udevadm monitor --kernel --property` output, or null. */
export function parseUdevadmBlock(block: string): Uevent | null {
  const lines = block.split('\n').filter((l) => l !== '');
  const header = UDEVADM_HEADER.exec(lines[0] ?? '');
  if (header === null) return null;
  const properties: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const line of lines.slice(1)) addProperty(properties, line);
  return build(header[1] ?? '', header[2] ?? '', { ...properties });
}

/**
 * Split accumulated udevadm output into complete blocks and the unfinished
 * tail. Lines that are not part of an event (udevadm's banner) are dropped
 * by `parseUdevadmBlock`.
 */
export function splitUdevadmOutput(buffer: string): { blocks: string[]; rest: string } {
  const blocks = buffer.split('\n\n');
  const rest = blocks.pop() ?? '';
  return { blocks, rest };
}

/** NVME_AEN as a number (`0x70f002` → 0x70f002), or undefined. */
export function nvmeAenOf(event: Uevent): number | undefined {
  const value = event.properties['NVME_AEN'];
  if (value === undefined || !/^0x[0-9a-fA-F]{1,8}$/.test(value)) return undefined;
  return Number.parseInt(value.slice(2), 16);
}

/** NVME_EVENT (`connected`, `rediscover`), or undefined. */
export function nvmeEventOf(event: Uevent): string | undefined {
  return event.properties['NVME_EVENT'];
}

/** The discovery-log-change AEN value (AER DW0). */
export const AEN_DISCOVERY_LOG_CHANGED = 0x70f002;

/** The kernel device name of an event (`nvme0` from DEVNAME or the devpath's last part). */
export function deviceOfUevent(event: Uevent): string {
  return event.properties['DEVNAME'] ?? event.devpath.slice(event.devpath.lastIndexOf('/') + 1);
}
