/**
 * Every filesystem location stas touches, in one place, so that none is
 * hard-coded: tests and unprivileged runs point them elsewhere.
 *
 * Resolution, per path: its own environment variable if set; else the default
 * location under `STAS_ROOT` (a prefix, e.g. a temporary directory) when set;
 * else the real system location. Command-line options of each tool are applied
 * on top by the caller. Pure: reads only the `env` object it is given.
 *
 * Tests: paths.test.ts
 */
import { join } from 'node:path';

export interface StasPaths {
  /** Directory of stafd.conf, stacd.conf and sys.conf (`/etc/stas`). */
  readonly etcStas: string;
  /** Directory of hostnqn, hostid, hostkey and exclusions.conf (`/etc/nvme`). */
  readonly etcNvme: string;
  /** Parent of the daemons' runtime directories (`/run`). */
  readonly run: string;
  /** sysfs mount (`/sys`). */
  readonly sys: string;
  /** The fabrics control device (`/dev/nvme-fabrics`). */
  readonly fabricsDevice: string;
  /** The machine ID file used to derive the host NQN (`/etc/machine-id`). */
  readonly machineId: string;
  /** SMBIOS system UUID, a fallback for the host NQN (`/sys/class/dmi/id/product_uuid`). */
  readonly dmiProductUuid: string;
  /** IBM Power partition UUID, another fallback (`/proc/device-tree/ibm,partition-uuid`). */
  readonly partitionUuid: string;
}

/** Environment variable for each path; STAS_ROOT prefixes every default. */
export const PATH_ENV = {
  etcStas: 'STAS_ETC_DIR',
  etcNvme: 'STAS_NVME_ETC_DIR',
  run: 'STAS_RUN_DIR',
  sys: 'STAS_SYSFS_DIR',
  fabricsDevice: 'STAS_FABRICS_DEVICE',
  machineId: 'STAS_MACHINE_ID_FILE',
  dmiProductUuid: 'STAS_DMI_PRODUCT_UUID_FILE',
  partitionUuid: 'STAS_PARTITION_UUID_FILE',
} as const satisfies Record<keyof StasPaths, string>;

const SYSTEM_PATHS: StasPaths = {
  etcStas: '/etc/stas',
  etcNvme: '/etc/nvme',
  run: '/run',
  sys: '/sys',
  fabricsDevice: '/dev/nvme-fabrics',
  machineId: '/etc/machine-id',
  dmiProductUuid: '/sys/class/dmi/id/product_uuid',
  partitionUuid: '/proc/device-tree/ibm,partition-uuid',
};

export function resolvePaths(env: Readonly<Record<string, string | undefined>>): StasPaths {
  const root = env['STAS_ROOT'];
  const pick = (name: keyof StasPaths): string => {
    const own = env[PATH_ENV[name]];
    if (own !== undefined && own !== '') return own;
    const system = SYSTEM_PATHS[name];
    return root !== undefined && root !== '' ? join(root, system) : system;
  };
  return {
    etcStas: pick('etcStas'),
    etcNvme: pick('etcNvme'),
    run: pick('run'),
    sys: pick('sys'),
    fabricsDevice: pick('fabricsDevice'),
    machineId: pick('machineId'),
    dmiProductUuid: pick('dmiProductUuid'),
    partitionUuid: pick('partitionUuid'),
  };
}
