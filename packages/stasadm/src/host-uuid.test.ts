import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { findHostUuid, uuidFromMachineId, uuidFromPartitionId, uuidFromSmbios } from './host-uuid.js';

describe('uuidFromMachineId', () => {
  it('derives the same UUID as nvme-stas', () => {
    expect(uuidFromMachineId('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa')).toBe(
      '3da64a01-16c5-4e10-ac46-397e2372b964',
    );
    expect(uuidFromMachineId('0123456789abcdef0123456789abcdef\n')).toBe(
      'f2782346-4809-484a-9a8b-952a04b57ba4',
    );
  });

  it('rejects text that is not 32 hex digits', () => {
    expect(uuidFromMachineId('')).toBeNull();
    expect(uuidFromMachineId('aaaa')).toBeNull();
    expect(uuidFromMachineId('zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz')).toBeNull();
  });
});

describe('uuidFromSmbios', () => {
  it('swaps the first three groups to network order, keeping the case', () => {
    expect(uuidFromSmbios('4C4C4544-0036-3410-8038-B2C04F313233\n')).toBe(
      '44454C4C-3600-1034-8038-B2C04F313233',
    );
  });

  it('rejects malformed text', () => {
    expect(uuidFromSmbios('not-a-uuid')).toBeNull();
  });
});

describe('uuidFromPartitionId', () => {
  it('takes the UUID as is, without trailing NULs', () => {
    expect(uuidFromPartitionId('01234567-89ab-cdef-0123-456789abcdef\0')).toBe(
      '01234567-89ab-cdef-0123-456789abcdef',
    );
  });
});

describe('findHostUuid', () => {
  it('prefers the machine ID, then SMBIOS, then falls back to a random UUID', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stas-uuid-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const files = {
      machineId: join(dir, 'machine-id'),
      dmiProductUuid: join(dir, 'product_uuid'),
      partitionUuid: join(dir, 'partition-uuid'),
    };
    const random = await findHostUuid(files);
    expect(random.source).toBe('random');
    expect(random.uuid).toMatch(/^[0-9a-f-]{36}$/);

    await writeFile(files.dmiProductUuid, '4C4C4544-0036-3410-8038-B2C04F313233\n');
    expect(await findHostUuid(files)).toEqual({
      uuid: '44454C4C-3600-1034-8038-B2C04F313233',
      source: 'smbios',
    });

    await writeFile(files.machineId, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n');
    expect(await findHostUuid(files)).toEqual({
      uuid: '3da64a01-16c5-4e10-ac46-397e2372b964',
      source: 'machine-id',
    });
  });
});
