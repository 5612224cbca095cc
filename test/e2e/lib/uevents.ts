/**
 * Watches the kernel's NVMe uevents (add / change NVME_EVENT=connected /
 * change NVME_AEN=... / remove) in the e2e guest through
 * `udevadm monitor --kernel --property --subsystem-match=nvme`, which reads the
 * kernel's netlink socket and needs no udevd. Touches that child process only;
 * it is killed by stop(). `parseUevents` is pure. A monitor that exits early
 * makes `ready` reject. Used by the *.e2e.test.ts suites; tested through
 * test/e2e/kernel-smoke.e2e.test.ts (it needs the guest).
 */
import { spawn } from 'node:child_process';

export interface Uevent {
  readonly action: string;
  readonly devpath: string;
  /** KEY=VALUE properties (ACTION, DEVNAME, NVME_AEN, NVME_TRADDR, ...). */
  readonly properties: Readonly<Record<string, string>>;
}

/**
 * Splits udevadm's `--property` output into events. Returns the complete
 * events and the unparsed tail (an event still being printed).
 */
export function parseUevents(text: string): { events: Uevent[]; rest: string } {
  const events: Uevent[] = [];
  const blocks = text.split('\n\n');
  const rest = blocks.pop() ?? '';
  for (const block of blocks) {
    const properties: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0 && /^[A-Z0-9_]+$/.test(line.slice(0, eq)))
        properties[line.slice(0, eq)] = line.slice(eq + 1);
    }
    const action = properties.ACTION;
    const devpath = properties.DEVPATH;
    if (action !== undefined && devpath !== undefined) events.push({ action, devpath, properties });
  }
  return { events, rest };
}

export interface UeventMonitor {
  /** Events received so far, oldest first. */
  readonly events: readonly Uevent[];
  /** Resolves once the netlink socket is bound: later uevents are not missed. */
  readonly ready: Promise<void>;
  stop(): void;
}

export function monitorNvmeUevents(): UeventMonitor {
  const child = spawn('udevadm', ['monitor', '--kernel', '--property', '--subsystem-match=nvme'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Uevent[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      // udevadm prints this header line after it has subscribed to the kernel's uevents
      if (buffer.includes('KERNEL - the kernel uevent\n')) resolve();
      const parsed = parseUevents(buffer);
      events.push(...parsed.events);
      buffer = parsed.rest;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      reject(new Error(`udevadm monitor exited (${code ?? 'signal'}): ${stderr}`));
    });
  });
  // a monitor stopped before it was ready must not surface as an unhandled rejection
  ready.catch(() => undefined);
  return {
    events,
    ready,
    stop: () => {
      child.kill();
    },
  };
}
