/**
 * Fallback uevent source: `udevadm monitor --kernel --property`, spawned and
 * parsed (uevent-parse.ts), for hosts where the netlink socket cannot be
 * opened through koffi (no prebuilt koffi binary for the platform, a seccomp
 * filter). It reads the same kernel netlink group and needs no udevd.
 *
 * I/O edge: one child process, killed (SIGTERM, by its own pid) by stop().
 * udevadm prints `KERNEL - the kernel uevent` once subscribed: `ready`
 * resolves then. The child ending or failing to start calls `onFailure` once
 * (and rejects `ready` if it was not ready yet). Limits compared with the
 * socket: udevadm does not report receive-buffer overflows (a lost uevent
 * goes unnoticed), and each event costs a text parse.
 *
 * Used by: uevents.ts. Tests: uevents.test.ts (forced udevadm source).
 */
import { spawn } from 'node:child_process';
import { StasError } from '../errors.js';
import type { Uevent } from './uevent-parse.js';
import { parseUdevadmBlock, splitUdevadmOutput } from './uevent-parse.js';

export interface UdevadmMonitorHandlers {
  readonly onEvent: (event: Uevent) => void;
  readonly onFailure: (err: StasError) => void;
}

export interface UdevadmMonitor {
  readonly ready: Promise<void>;
  stop(): void;
}

const READY_MARK = 'KERNEL - the kernel uevent';
/** A stuck partial block larger than this is dropped, so a broken child cannot grow memory. */
const MAX_BUFFER = 1024 * 1024;

export function startUdevadmMonitor(udevadm: string, handlers: UdevadmMonitorHandlers): UdevadmMonitor {
  const child = spawn(udevadm, ['monitor', '--kernel', '--property'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buffer = '';
  let stderr = '';
  let stopped = false;
  let isReady = false;
  let failed = false;
  let resolveReady: () => void = () => undefined;
  let rejectReady: (err: StasError) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => undefined); // observed through onFailure as well

  const fail = (message: string, cause?: unknown): void => {
    if (stopped || failed) return;
    failed = true;
    const err = new StasError('KERNEL_UEVENT_UNAVAILABLE', `${udevadm} monitor: ${message}`, { cause });
    if (!isReady) rejectReady(err);
    handlers.onFailure(err);
  };

  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    if (!isReady && buffer.includes(READY_MARK)) {
      isReady = true;
      resolveReady();
    }
    const { blocks, rest } = splitUdevadmOutput(buffer);
    buffer = rest.length > MAX_BUFFER ? '' : rest;
    if (stopped) return;
    for (const block of blocks) {
      const event = parseUdevadmBlock(block);
      if (event !== null) handlers.onEvent(event);
    }
  });
  child.on('error', (err) => {
    fail('cannot run it', err);
  });
  child.on('exit', (code, signal) => {
    fail(`exited (${code ?? signal ?? 'unknown'})${stderr === '' ? '' : `: ${stderr.trim()}`}`);
  });

  return {
    ready,
    stop(): void {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
