// One vitest run for the whole workspace. Each package is a project so that
// `vitest --project common` runs one package; `integration` holds the tests
// that start real daemons (dbus-daemon, avahi, the DC simulator).
import { defineConfig } from 'vitest/config';

const shared = {
  resolve: { conditions: ['stas-source'] },
};

export default defineConfig({
  test: {
    reporters: ['default', './test/setup/summary-reporter.ts'],
    projects: [
      ...['common', 'stasadm', 'stafd', 'stacd'].map((name) => ({
        ...shared,
        test: { name, include: [`packages/${name}/src/**/*.test.ts`], setupFiles: ['test/setup/quiet.ts'] },
      })),
      {
        ...shared,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          setupFiles: ['test/setup/quiet.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
