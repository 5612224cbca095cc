// The real worker path of KernelFabricsDevice against stand-ins for /dev/nvme-fabrics:
// a regular file (the write lands at the start, the "reply" is what follows it), a FIFO
// that is kept full (so the write really blocks in the kernel), /dev/null (empty reply),
// /dev/full (ENOSPC), a directory and a missing path. The real device: e2e only.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isErrnoException } from '../errors.js';
import { KERNEL_6_1_OPTION_LIST } from '../testing/fake-fabrics.js';
import { KernelFabricsDevice, deleteControllerPath } from './fabrics-device.js';
import type { DeviceName } from './fabrics-outcome.js';

let dir: string;
const devices: KernelFabricsDevice[] = [];

function device(fabricsDevice: string, concurrency = 2): KernelFabricsDevice {
  const d = new KernelFabricsDevice({ fabricsDevice, sys: join(dir, 'sys'), concurrency, release: '6.1.0' });
  devices.push(d);
  return d;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stas-fabrics-'));
});

afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.close()));
  await rm(dir, { recursive: true, force: true });
});

const TEXT = 'nqn=nqn.2024-01.io.example:v,transport=tcp,traddr=127.0.0.1,trsvcid=4420';

describe('KernelFabricsDevice.connect (worker thread, stand-in files)', () => {
  it('writes the string with one write and parses the reply read on the same descriptor', async () => {
    const path = join(dir, 'fabrics');
    await writeFile(path, `${' '.repeat(TEXT.length)}instance=5,cntlid=9\n`);
    const outcome = await device(path).connect(TEXT);
    expect(outcome).toEqual({ ok: true, kind: 'connected', device: 'nvme5', instance: 5, cntlid: 9 });
    expect((await readFile(path, 'utf8')).slice(0, TEXT.length)).toBe(TEXT);
  });

  it('blocks only the worker while the write waits in the kernel (a full FIFO), then reports the outcome', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      const chunk = Buffer.alloc(4096, 0x78);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if (isErrnoException(err) && err.code === 'EAGAIN') break;
          throw err;
        }
      }
      let settled = false;
      const result = device(fifo)
        .connect(TEXT)
        .finally(() => {
          settled = true;
        });
      const ticks = await new Promise<number[]>((resolve) => {
        const seen: number[] = [];
        const timer = setInterval(() => {
          seen.push(performance.now());
          if (seen.length === 20) {
            clearInterval(timer);
            resolve(seen);
          }
        }, 10);
      });
      // 20 timer ticks ran while the write was stuck in the kernel: the loop was never blocked
      expect(ticks).toHaveLength(20);
      expect(settled).toBe(false); // the pipe is full: the write cannot have finished
      // Make room for the write (8 KiB of the ~64 KiB filler): it goes in, and the worker's read then
      // gets filler, which is not a reply: a typed bad-reply. Filler stays, so that read never waits.
      const sink = Buffer.alloc(4096);
      readSync(fd, sink, 0, sink.length, null);
      readSync(fd, sink, 0, sink.length, null);
      await expect(result).resolves.toMatchObject({ ok: false, kind: 'bad-reply', stage: 'reply' });
    } finally {
      closeSync(fd);
    }
  }, 20_000);

  it('calls an empty reply (/dev/null) a bad reply', async () => {
    await expect(device('/dev/null').connect(TEXT)).resolves.toMatchObject({ ok: false, kind: 'bad-reply' });
  });

  it('maps a write error to a typed failure with the errno name (/dev/full: ENOSPC)', async () => {
    await expect(device('/dev/full').connect(TEXT)).resolves.toMatchObject({
      ok: false,
      kind: 'other',
      errno: 'ENOSPC',
      stage: 'write',
      transient: false,
    });
  });

  it('reports a missing device as no-fabrics-device (module not loaded)', async () => {
    await expect(device(join(dir, 'missing')).connect(TEXT)).resolves.toMatchObject({
      ok: false,
      kind: 'no-fabrics-device',
      errno: 'ENOENT',
      stage: 'open',
    });
  });

  it('reports an open error other than a missing file as such (a directory: EISDIR)', async () => {
    await expect(device(dir).connect(TEXT)).resolves.toMatchObject({
      ok: false,
      errno: 'EISDIR',
      stage: 'open',
    });
  });

  it('rejects a request whose signal is already aborted, without touching the device', async () => {
    const path = join(dir, 'untouched');
    await writeFile(path, 'x');
    await expect(device(path).connect(TEXT, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(await readFile(path, 'utf8')).toBe('x');
  });

  it('refuses new requests after close', async () => {
    const d = device('/dev/null');
    await d.close();
    await expect(d.connect(TEXT)).rejects.toMatchObject({ code: 'KERNEL_POOL_CLOSED' });
  });
});

describe('KernelFabricsDevice.probeOptions', () => {
  it('reads the option list of a fresh open', async () => {
    const path = join(dir, 'fabrics');
    await writeFile(path, KERNEL_6_1_OPTION_LIST);
    const set = await device(path).probeOptions();
    expect(set.source).toBe('kernel');
    expect(set.options.has('host_iface')).toBe(true);
    expect(set.options.has('instance')).toBe(false);
  });

  it('rejects with KERNEL_FABRICS_UNAVAILABLE when the device is missing', async () => {
    await expect(device(join(dir, 'missing')).probeOptions()).rejects.toMatchObject({
      code: 'KERNEL_FABRICS_UNAVAILABLE',
    });
  });
});

describe('KernelFabricsDevice.disconnect', () => {
  it('writes 1 to delete_controller of the device', async () => {
    const ctrl = join(dir, 'sys', 'class', 'nvme', 'nvme3');
    await mkdir(ctrl, { recursive: true });
    await writeFile(join(ctrl, 'delete_controller'), '');
    const d = device('/dev/null');
    await expect(d.disconnect('nvme3' as DeviceName)).resolves.toEqual({ ok: true, kind: 'deleted' });
    expect(await readFile(deleteControllerPath(join(dir, 'sys'), 'nvme3' as DeviceName), 'utf8')).toBe('1');
  });

  it('says already-gone for a controller that does not exist (and creates nothing)', async () => {
    const d = device('/dev/null');
    await mkdir(join(dir, 'sys', 'class', 'nvme', 'nvme4'), { recursive: true });
    await expect(d.disconnect('nvme4' as DeviceName)).resolves.toEqual({ ok: true, kind: 'already-gone' });
    await expect(d.disconnect('nvme9' as DeviceName)).resolves.toEqual({ ok: true, kind: 'already-gone' });
    await expect(readFile(join(dir, 'sys', 'class', 'nvme', 'nvme4', 'delete_controller'))).rejects.toThrow();
  });

  it('refuses a name that is not nvme<N> (no path escapes sysfs)', async () => {
    await expect(device('/dev/null').disconnect('../../etc' as DeviceName)).rejects.toMatchObject({
      code: 'KERNEL_BAD_DEVICE_NAME',
    });
  });
});
