/**
 * The code that runs inside a fabrics worker thread (see worker-pool.ts): the
 * blocking system calls on /dev/nvme-fabrics and on sysfs attributes, done
 * synchronously, one request at a time.
 *
 * Requests and replies are plain data (typed below; the handler itself is a
 * JavaScript string because it is evaluated in the worker):
 * - `connect`: open(path, O_RDWR) → write(text) → read(≤ 4 KiB) → close.
 *   The write blocks in the kernel until the controller is live or failed.
 * - `read`: open(path, O_RDONLY) → read(≤ 64 KiB) → close (the option list).
 * - `write`: open(path, O_WRONLY, no O_CREAT) → write(data) → close
 *   (delete_controller: blocks through the controller's shutdown).
 * Failures are replies, never throws: `{ ok: false, stage, errno, code, message }`
 * with `errno` the (positive) number. The fd is always closed.
 *
 * Used by: fabrics-device.ts. Tests: fabrics-device.test.ts (against FIFOs,
 * regular files, /dev/null, /dev/full and missing paths); the real device
 * only in test/e2e/kernel-interface.e2e.test.ts.
 */
import { workerSource } from './worker-pool.js';

export type FabricsWorkerRequest =
  | { readonly op: 'connect'; readonly path: string; readonly text: string }
  | { readonly op: 'read'; readonly path: string }
  | { readonly op: 'write'; readonly path: string; readonly data: string };

export type FabricsWorkerReply =
  | { readonly ok: true; readonly text: string }
  | {
      readonly ok: false;
      readonly stage: 'open' | 'write' | 'read';
      readonly errno: number;
      readonly code: string;
      readonly message: string;
    };

const HANDLER = String.raw`function fabricsJob(request) {
  const fs = process.getBuiltinModule('node:fs');
  const fail = (stage, err) => ({
    ok: false,
    stage,
    errno: Math.abs(typeof err.errno === 'number' ? err.errno : 0),
    code: typeof err.code === 'string' ? err.code : '',
    message: String(err.message),
  });
  let fd;
  try {
    const flags =
      request.op === 'connect' ? fs.constants.O_RDWR : request.op === 'read' ? fs.constants.O_RDONLY : fs.constants.O_WRONLY;
    fd = fs.openSync(request.path, flags | fs.constants.O_CLOEXEC);
  } catch (err) {
    return fail('open', err);
  }
  try {
    if (request.op === 'connect' || request.op === 'write') {
      const bytes = Buffer.from(request.op === 'connect' ? request.text : request.data, 'utf8');
      try {
        // One write() call: the fabrics device takes exactly one write per open.
        const written = fs.writeSync(fd, bytes, 0, bytes.length, null);
        if (written !== bytes.length) {
          return { ok: false, stage: 'write', errno: 5, code: 'EIO', message: 'short write (' + written + ' of ' + bytes.length + ' bytes)' };
        }
      } catch (err) {
        return fail('write', err);
      }
      if (request.op === 'write') return { ok: true, text: '' };
    }
    const buffer = Buffer.alloc(request.op === 'connect' ? 4096 : 65536);
    try {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      return { ok: true, text: buffer.subarray(0, n).toString('utf8') };
    } catch (err) {
      return fail('read', err);
    }
  } finally {
    try { fs.closeSync(fd); } catch {}
  }
}`;

/** The worker script (plain JavaScript) for the fabrics pool. */
export const FABRICS_WORKER_SOURCE = workerSource(HANDLER);

export function isFabricsWorkerReply(value: unknown): value is FabricsWorkerReply {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (v['ok'] === true) return typeof v['text'] === 'string';
  return v['ok'] === false && typeof v['errno'] === 'number' && typeof v['stage'] === 'string';
}
