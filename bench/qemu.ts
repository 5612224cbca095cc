/**
 * Real-kernel figures: one QEMU guest boot (test/e2e/harness run) running
 * bench/dist/guest-kernel.js, whose `BENCH-JSON` line is turned into rows:
 * an in-daemon log refresh vs `nvme discover` (ratio ≤ 1.0), `stafctl
 * discover` as a cold process vs `nvme discover` (reported), and stas's 32
 * connects vs `nvme connect-all` (ratio ≤ 0.5). Needs root and the e2e cache
 * (scripts/e2e-setup.sh); fails by throwing (→ 'not measured' rows).
 */
import { spawn } from 'node:child_process';
import type { Row } from './report.js';
import { median } from './report.js';

interface GuestResult {
  readonly runs: number;
  readonly entries: number;
  readonly nvmeDiscover: number[];
  readonly refresh: number[];
  readonly stafctlCold: number[];
  readonly connectAll: number[];
  readonly ours: number[];
}

function runGuest(runs: number): Promise<{ result: GuestResult; accel: string }> {
  const root = new URL('../../', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    const child = spawn(
      `${root}test/e2e/harness`,
      ['run', '--timeout', '600', '--', 'node', 'bench/dist/guest-kernel.js', '--runs', String(runs)],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      process.stderr.write(c);
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH-JSON '));
      if (code !== 0 || line === undefined) {
        reject(new Error(`guest exited ${code}: ${(err.trim().split('\n').pop() ?? '').slice(0, 200)}`));
        return;
      }
      resolve({
        result: JSON.parse(line.slice('BENCH-JSON '.length)) as GuestResult,
        accel: /\((tcg|kvm)\)/.exec(err)?.[1] ?? '?',
      });
    });
  });
}

export async function qemuFigures(runs: number): Promise<Row[]> {
  const { result: g, accel } = await runGuest(Math.min(runs, 5));
  const disc = median(g.nvmeDiscover);
  const refresh = median(g.refresh);
  const cold = median(g.stafctlCold);
  const all = median(g.connectAll);
  const ours = median(g.ours);
  const note = `guest under ${accel.toUpperCase()}${accel === 'tcg' ? ' (CPU 10-30x slower than native)' : ''}`;
  return [
    {
      figure: 'discovery: in-daemon log refresh / `nvme discover`',
      how: 'QEMU guest, nvmet 127.0.0.1:4420 (33 entries), same run',
      value: refresh / disc,
      unit: '×',
      target: '≤ 1.0',
      pass: refresh / disc <= 1.0,
      runs: g.runs,
      detail: `refresh ${refresh.toFixed(0)} ms on an open session vs nvme discover ${disc.toFixed(0)} ms; ${note}`,
    },
    {
      figure: 'discovery: `stafctl discover` cold process / `nvme discover`',
      how: 'QEMU guest, same target, same run',
      value: cold / disc,
      unit: '×',
      target: 'report',
      pass: true,
      runs: g.runs,
      detail: `stafctl ${cold.toFixed(0)} ms vs nvme discover ${disc.toFixed(0)} ms; node start-up dominates under ${accel.toUpperCase()}`,
    },
    {
      figure: '32 real connects: stas / `nvme connect-all`',
      how: 'QEMU guest: userspace discover + 32 writes via KernelFabricsDevice (4 workers) vs connect-all',
      value: ours / all,
      unit: '×',
      target: '≤ 0.5',
      pass: ours / all <= 0.5,
      runs: g.runs,
      detail:
        `stas ${ours.toFixed(0)} ms vs connect-all ${all.toFixed(0)} ms; the kernel serialises ` +
        `/dev/nvme-fabrics writes (one global mutex), so parallel writes cannot overlap; ${note}`,
    },
  ];
}
