// Vitest configuration for the real-kernel e2e suites (test/e2e/**/*.e2e.test.ts).
// They run INSIDE the QEMU guest started by test/e2e/run (test/e2e/harness), as
// root, against the guest kernel's nvme-tcp and nvmet: never on a host, where
// they would reconfigure the host's own NVMe target. One file at a time, since
// all files share that one kernel.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

if (process.env.STAS_E2E_GUEST !== '1') {
  throw new Error('e2e suites run inside the e2e guest only: use test/e2e/run (or npm run test:e2e)');
}

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { conditions: ['stas-source'] },
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    reporters: ['default', './test/setup/summary-reporter.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
