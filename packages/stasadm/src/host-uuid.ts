/**
 * Where a new host NQN's UUID comes from, in the same order and with the same
 * derivation as nvme-stas, so a host moving from nvme-stas to stas keeps its
 * NQN:
 *   1. /etc/machine-id: HMAC-SHA256 keyed with "$nvmexpress.org$" over the 16
 *      machine-id bytes, first 16 bytes, RFC 4122 version 4 and variant bits;
 *   2. the SMBIOS system UUID, first three groups byte-swapped to network order;
 *   3. the IBM Power partition UUID, as is;
 *   4. a random UUID.
 *
 * The derivations are pure functions; `findHostUuid` reads the files (paths
 * are parameters) and says which source it used. An unreadable source (absent,
 * not permitted, malformed) simply moves on to the next one.
 *
 * Tests: host-uuid.test.ts
 */
import { createHmac, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const APP_KEY = '$nvmexpress.org$';
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function formatUuid(bytes: Uint8Array): string {
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The UUID derived from a machine ID (32 hex digits), or null if the text is not one. */
export function uuidFromMachineId(machineIdText: string): string | null {
  const id = machineIdText.trim();
  if (!/^[0-9a-f]{32}$/i.test(id)) return null;
  const digest = createHmac('sha256', APP_KEY).update(Buffer.from(id, 'hex')).digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  return formatUuid(bytes);
}

/** SMBIOS stores the first three UUID fields little-endian; swap them to network order (case kept). */
export function uuidFromSmbios(productUuidText: string): string | null {
  const text = productUuidText.trim();
  if (!UUID_TEXT.test(text)) return null;
  const [a = '', b = '', c = '', d = '', e = ''] = text.split('-');
  const swap = (group: string): string => (group.match(/../g) ?? []).reverse().join('');
  return `${swap(a)}-${swap(b)}-${swap(c)}-${d}-${e}`;
}

export function uuidFromPartitionId(text: string): string | null {
  const value = text.replace(/\0+$/, '').trim();
  return UUID_TEXT.test(value) ? value : null;
}

export type UuidSource = 'machine-id' | 'smbios' | 'partition-uuid' | 'random';

export interface UuidFiles {
  readonly machineId: string;
  readonly dmiProductUuid: string;
  readonly partitionUuid: string;
}

export async function findHostUuid(files: UuidFiles): Promise<{ uuid: string; source: UuidSource }> {
  const attempts: [UuidSource, string, (text: string) => string | null][] = [
    ['machine-id', files.machineId, uuidFromMachineId],
    ['smbios', files.dmiProductUuid, uuidFromSmbios],
    ['partition-uuid', files.partitionUuid, uuidFromPartitionId],
  ];
  for (const [source, path, derive] of attempts) {
    const text = await readFile(path, 'utf8').catch(() => null);
    const uuid = text === null ? null : derive(text);
    if (uuid !== null) return { uuid, source };
  }
  return { uuid: randomUUID(), source: 'random' };
}
