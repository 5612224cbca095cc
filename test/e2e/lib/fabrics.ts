/**
 * The guest kernel's NVMe-oF host side as e2e tests see it: the host identity
 * in /etc/nvme, raw connects through /dev/nvme-fabrics, and controller and
 * namespace state in /sys/class/nvme*. Touches those files only. Errors are the
 * kernel's (errno from write/read) or an Error for a reply that cannot be parsed.
 * Used by the *.e2e.test.ts suites and test/e2e/lib/target.ts.
 * Tested through test/e2e/kernel-smoke.e2e.test.ts (it needs the guest).
 */
import { open, readFile, readdir, writeFile } from 'node:fs/promises';

const FABRICS_DEVICE = '/dev/nvme-fabrics';
const NVME_CLASS = '/sys/class/nvme';
const SUBSYSTEM_CLASS = '/sys/class/nvme-subsystem';

export interface HostIdentity {
  readonly hostnqn: string;
  readonly hostid: string;
}

export async function hostIdentity(): Promise<HostIdentity> {
  const [hostnqn, hostid] = await Promise.all([
    readFile('/etc/nvme/hostnqn', 'utf8'),
    readFile('/etc/nvme/hostid', 'utf8'),
  ]);
  return { hostnqn: hostnqn.trim(), hostid: hostid.trim() };
}

export interface FabricsReply {
  readonly instance: number;
  readonly cntlid: number;
}

/** Parses the kernel's answer to a connect: `instance=N,cntlid=M`. */
export function parseFabricsReply(text: string): FabricsReply {
  const match = /^instance=(\d+),cntlid=(\d+)\s*$/.exec(text);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new Error(`unexpected ${FABRICS_DEVICE} reply: ${JSON.stringify(text)}`);
  }
  return { instance: Number(match[1]), cntlid: Number(match[2]) };
}

/**
 * Connects a controller the way nvme-cli and stas do: write the option string
 * to /dev/nvme-fabrics and read the reply on the same open file.
 */
export async function fabricsConnect(options: string): Promise<FabricsReply> {
  const file = await open(FABRICS_DEVICE, 'r+');
  try {
    await file.write(options);
    const buffer = Buffer.alloc(256);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
    return parseFabricsReply(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await file.close();
  }
}

/** A controller attribute from /sys/class/nvme/nvmeN, trimmed. */
export async function controllerAttr(instance: number, name: string): Promise<string> {
  return (await readFile(`${NVME_CLASS}/nvme${instance}/${name}`, 'utf8')).trim();
}

/** Instances of the existing NVMe controllers (nvmeN), in ascending order. */
export async function listControllers(): Promise<number[]> {
  const names = await readdir(NVME_CLASS).catch(() => []);
  return names
    .map((name) => /^nvme(\d+)$/.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export async function deleteController(instance: number): Promise<void> {
  await writeFile(`${NVME_CLASS}/nvme${instance}/delete_controller`, '1');
}

/** Block devices (/dev/nvmeXnY) of the namespaces of the subsystem with this NQN. */
export async function namespaceDevices(subsysnqn: string): Promise<string[]> {
  const devices: string[] = [];
  for (const subsystem of await readdir(SUBSYSTEM_CLASS).catch(() => [])) {
    const dir = `${SUBSYSTEM_CLASS}/${subsystem}`;
    const nqn = await readFile(`${dir}/subsysnqn`, 'utf8').catch(() => '');
    if (nqn.trim() !== subsysnqn) continue;
    for (const entry of await readdir(dir)) {
      if (/^nvme\d+n\d+$/.test(entry)) devices.push(`/dev/${entry}`);
    }
  }
  return devices.sort();
}
