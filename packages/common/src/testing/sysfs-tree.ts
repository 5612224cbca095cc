/**
 * Test helper: builds NVMe controllers and subsystems in a fake sysfs tree,
 * laid out like kernel 6.1 (captured from the lab guest, Debian 6.1.0-56):
 *
 *   devices/virtual/nvme-fabrics/ctl/nvme<N>/{transport,address,…}
 *   devices/virtual/nvme-fabrics/ctl/nvme<N>/nvme<K>c<N>n<M>/        (multipath path)
 *   class/nvme/nvme<N> -> ../../devices/virtual/nvme-fabrics/ctl/nvme<N>
 *   devices/virtual/nvme-subsystem/nvme-subsys<K>/{subsysnqn,subsystype,…}
 *   devices/virtual/nvme-subsystem/nvme-subsys<K>/nvme<N> -> ../../nvme-fabrics/ctl/nvme<N>
 *   devices/virtual/nvme-subsystem/nvme-subsys<K>/nvme<K>n<M>/       (namespace head)
 *   class/nvme-subsystem/nvme-subsys<K> -> ../../devices/virtual/nvme-subsystem/nvme-subsys<K>
 *
 * Attribute files end in a newline; model and serial are space-padded to 40
 * and 20 characters as 6.1 shows them. Touches only the given root. Never
 * used by daemons (testing/ is not bundled).
 */
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface FakeControllerSpec {
  readonly instance: number;
  /** nvme-subsys<K>; default = instance. */
  readonly subsystem?: number;
  readonly transport?: string;
  readonly traddr?: string;
  readonly trsvcid?: string;
  readonly hostTraddr?: string;
  readonly hostIface?: string;
  /** '' or undefined: no src_addr (not connected, or a kernel before 6.1). */
  readonly srcAddr?: string;
  readonly subsysnqn: string;
  /** `io` | `discovery`; null: attribute absent (kernel < 5.18). Default from the NQN. */
  readonly cntrltype?: string | null;
  readonly dctype?: string | null;
  /** `nvm` | `discovery`; null: absent. Default from cntrltype. */
  readonly subsystype?: string | null;
  readonly hostnqn?: string;
  readonly hostid?: string;
  readonly state?: string;
  readonly kato?: number;
  readonly cntlid?: number;
  readonly model?: string;
  readonly serial?: string;
  readonly firmwareRev?: string;
  readonly ctrlLossTmo?: number | 'off';
  readonly reconnectDelay?: number;
  readonly fastIoFailTmo?: number | 'off';
  /** Namespace IDs of the controller's namespaces. */
  readonly namespaces?: readonly number[];
  /** Attribute files to leave out (older kernels). */
  readonly omit?: readonly string[];
}

export const FAKE_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:ab493302-0738-4961-9973-2c6bc2c93697';
export const FAKE_HOSTID = '99b2aca3-bd1c-49ac-9884-a8c3eaccc265';
const WK_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

async function writeAttrs(
  dir: string,
  attrs: Record<string, string | null>,
  omit: readonly string[],
): Promise<void> {
  await Promise.all(
    Object.entries(attrs)
      .filter(([name, value]) => value !== null && !omit.includes(name))
      .map(([name, value]) => writeFile(join(dir, name), `${value ?? ''}\n`)),
  );
}

function addressOf(spec: FakeControllerSpec): string {
  const parts = [`traddr=${spec.traddr ?? '127.0.0.1'}`, `trsvcid=${spec.trsvcid ?? '4420'}`];
  if (spec.hostTraddr !== undefined && spec.hostTraddr !== '') parts.push(`host_traddr=${spec.hostTraddr}`);
  if (spec.hostIface !== undefined && spec.hostIface !== '') parts.push(`host_iface=${spec.hostIface}`);
  if (spec.srcAddr !== undefined && spec.srcAddr !== '') parts.push(`src_addr=${spec.srcAddr}`);
  return parts.join(',');
}

async function linkOnce(target: string, path: string): Promise<void> {
  await rm(path, { force: true, recursive: true });
  await symlink(target, path);
}

/** Create (or replace) one controller, its subsystem and namespaces under `sysRoot`. */
export async function writeFakeController(sysRoot: string, spec: FakeControllerSpec): Promise<void> {
  const dev = `nvme${spec.instance}`;
  const k = spec.subsystem ?? spec.instance;
  const subsysName = `nvme-subsys${k}`;
  const discovery = spec.subsysnqn === WK_NQN;
  const cntrltype = spec.cntrltype === undefined ? (discovery ? 'discovery' : 'io') : spec.cntrltype;
  const subsystype =
    spec.subsystype === undefined
      ? cntrltype === 'discovery' || discovery
        ? 'discovery'
        : 'nvm'
      : spec.subsystype;
  const model = (spec.model ?? (discovery ? 'Linux' : 'stas-fake')).padEnd(40, ' ');
  const serial = (spec.serial ?? `fake${spec.instance}`).padEnd(20, ' ');
  const firmwareRev = spec.firmwareRev ?? '6.1.0-56';
  const omit = spec.omit ?? [];

  const ctrlDir = join(sysRoot, 'devices', 'virtual', 'nvme-fabrics', 'ctl', dev);
  await rm(ctrlDir, { recursive: true, force: true });
  await mkdir(ctrlDir, { recursive: true });
  await writeAttrs(
    ctrlDir,
    {
      transport: spec.transport ?? 'tcp',
      address: addressOf(spec),
      subsysnqn: spec.subsysnqn,
      state: spec.state ?? 'live',
      cntrltype,
      dctype: spec.dctype === undefined ? 'none' : spec.dctype,
      hostnqn: spec.hostnqn ?? FAKE_HOSTNQN,
      hostid: spec.hostid ?? FAKE_HOSTID,
      kato: String(spec.kato ?? (discovery ? 30 : 5)),
      cntlid: String(spec.cntlid ?? spec.instance + 1),
      model,
      serial,
      firmware_rev: firmwareRev,
      ctrl_loss_tmo: String(spec.ctrlLossTmo ?? 600),
      reconnect_delay: String(spec.reconnectDelay ?? 10),
      fast_io_fail_tmo: String(spec.fastIoFailTmo ?? 'off'),
      numa_node: '-1',
      queue_count: discovery ? '1' : '3',
      sqsize: '127',
      dev: `246:${spec.instance}`,
      uevent: `MAJOR=246\nMINOR=${spec.instance}\nDEVNAME=${dev}`,
    },
    omit,
  );
  if (!omit.includes('delete_controller')) await writeFile(join(ctrlDir, 'delete_controller'), '');
  await mkdir(join(ctrlDir, 'power'), { recursive: true });
  for (const nsid of spec.namespaces ?? []) {
    await mkdir(join(ctrlDir, `nvme${k}c${spec.instance}n${nsid}`), { recursive: true });
  }
  await mkdir(join(sysRoot, 'class', 'nvme'), { recursive: true });
  await linkOnce(`../../devices/virtual/nvme-fabrics/ctl/${dev}`, join(sysRoot, 'class', 'nvme', dev));

  const subsysDir = join(sysRoot, 'devices', 'virtual', 'nvme-subsystem', subsysName);
  await mkdir(subsysDir, { recursive: true });
  await writeAttrs(
    subsysDir,
    {
      subsysnqn: spec.subsysnqn,
      subsystype,
      model,
      serial,
      firmware_rev: firmwareRev,
      iopolicy: 'numa',
    },
    omit,
  );
  await linkOnce(`../../nvme-fabrics/ctl/${dev}`, join(subsysDir, dev));
  for (const nsid of spec.namespaces ?? []) {
    await mkdir(join(subsysDir, `nvme${k}n${nsid}`), { recursive: true });
    await mkdir(join(subsysDir, `ng${k}n${nsid}`), { recursive: true });
  }
  await mkdir(join(sysRoot, 'class', 'nvme-subsystem'), { recursive: true });
  await linkOnce(
    `../../devices/virtual/nvme-subsystem/${subsysName}`,
    join(sysRoot, 'class', 'nvme-subsystem', subsysName),
  );
}

/** Remove a controller (and its subsystem link; the subsystem goes when it has no controller left). */
export async function removeFakeController(
  sysRoot: string,
  instance: number,
  subsystem: number = instance,
): Promise<void> {
  const dev = `nvme${instance}`;
  await rm(join(sysRoot, 'class', 'nvme', dev), { force: true });
  await rm(join(sysRoot, 'devices', 'virtual', 'nvme-fabrics', 'ctl', dev), { recursive: true, force: true });
  const subsysName = `nvme-subsys${subsystem}`;
  const subsysDir = join(sysRoot, 'devices', 'virtual', 'nvme-subsystem', subsysName);
  await rm(join(subsysDir, dev), { force: true });
  const left = await readdir(subsysDir).catch(() => [] as string[]);
  if (!left.some((e) => /^nvme\d+$/.test(e))) {
    await rm(subsysDir, { recursive: true, force: true });
    await rm(join(sysRoot, 'class', 'nvme-subsystem', subsysName), { force: true });
  }
}

/** `<sysRoot>/kernel/uevent_seqnum`. */
export async function writeFakeSeqnum(sysRoot: string, seqnum: number): Promise<void> {
  await mkdir(join(sysRoot, 'kernel'), { recursive: true });
  await writeFile(join(sysRoot, 'kernel', 'uevent_seqnum'), `${seqnum}\n`);
}
