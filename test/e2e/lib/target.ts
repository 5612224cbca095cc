/**
 * Declarative nvmet (Linux kernel NVMe target) set-ups for e2e tests, applied
 * through the test/e2e/nvmet script inside the guest. `describeTarget` is pure
 * (description -> nvmet commands); the other functions run the script and
 * touch the guest's nvmet configfs and its host-side fabrics controllers.
 * Failures reject with the RunError of the script (its stderr names the
 * failing step). Used by the *.e2e.test.ts suites; tested through
 * test/e2e/kernel-smoke.e2e.test.ts (it needs the guest).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { deleteController, listControllers } from './fabrics.js';
import { run } from './run.js';
import { waitFor } from './wait-for.js';

const NVMET_SCRIPT = fileURLToPath(new URL('../nvmet', import.meta.url));
const NVMET_CONFIG = '/sys/kernel/config/nvmet';

export interface NamespaceSpec {
  readonly nsid: number;
  /** Size of the sparse backing file on tmpfs, e.g. '64M' (the default). */
  readonly size?: string;
}

export interface SubsystemSpec {
  readonly nqn: string;
  readonly namespaces?: readonly NamespaceSpec[];
  readonly serial?: string;
  readonly model?: string;
  /** Host NQNs allowed to connect; absent = any host. */
  readonly allowedHosts?: readonly string[];
}

export interface ReferralSpec {
  readonly name: string;
  readonly traddr: string;
  readonly trsvcid: string;
}

export interface PortSpec {
  readonly id: number;
  readonly traddr: string;
  readonly trsvcid: string;
  /** NQNs exposed on this port (the port listens once one is linked). */
  readonly subsystems?: readonly string[];
  readonly referrals?: readonly ReferralSpec[];
}

export interface TargetSpec {
  readonly subsystems?: readonly SubsystemSpec[];
  readonly ports?: readonly PortSpec[];
}

/** The test/e2e/nvmet command lines that build `spec` on an empty target. */
export function describeTarget(spec: TargetSpec): string {
  const lines: string[] = [];
  for (const s of spec.subsystems ?? []) {
    let line = `subsystem ${s.nqn}`;
    if (s.serial !== undefined) line += ` serial=${s.serial}`;
    if (s.model !== undefined) line += ` model=${s.model}`;
    lines.push(line);
    for (const ns of s.namespaces ?? []) {
      lines.push(`namespace ${s.nqn} ${ns.nsid}${ns.size === undefined ? '' : ` size=${ns.size}`}`);
    }
    for (const host of s.allowedHosts ?? []) lines.push(`host ${s.nqn} ${host}`);
  }
  for (const p of spec.ports ?? []) {
    lines.push(`port ${p.id} ${p.traddr} ${p.trsvcid}`);
    for (const r of p.referrals ?? []) lines.push(`referral ${p.id} ${r.name} ${r.traddr} ${r.trsvcid}`);
    for (const nqn of p.subsystems ?? []) lines.push(`link ${p.id} ${nqn}`);
  }
  return lines.map((line) => `${line}\n`).join('');
}

/** Runs one test/e2e/nvmet command, e.g. `nvmet('show')`. */
export async function nvmet(...args: string[]): Promise<string> {
  return (await run(NVMET_SCRIPT, args)).stdout;
}

export async function applyTarget(spec: TargetSpec): Promise<void> {
  await run(NVMET_SCRIPT, ['apply', '-'], { input: describeTarget(spec) });
}

/** Exposes a subsystem on a port; hosts on that port's discovery controller get a change AEN. */
export async function linkSubsystem(portId: number, nqn: string): Promise<void> {
  await nvmet('link', String(portId), nqn);
}

export async function unlinkSubsystem(portId: number, nqn: string): Promise<void> {
  await nvmet('unlink', String(portId), nqn);
}

/** The file backing a namespace (read it to see what the target stored). */
export async function namespaceBackingFile(nqn: string, nsid: number): Promise<string> {
  return (await readFile(`${NVMET_CONFIG}/subsystems/${nqn}/namespaces/${nsid}/device_path`, 'utf8')).trim();
}

/** Removes every fabrics controller of the guest host and the whole nvmet configuration. */
export async function resetTarget(): Promise<void> {
  for (const instance of await listControllers()) {
    await deleteController(instance).catch(() => undefined);
  }
  await waitFor(async () => (await listControllers()).length === 0, {
    timeoutMs: 20_000,
    what: 'all NVMe controllers deleted',
  });
  await nvmet('clear');
}
