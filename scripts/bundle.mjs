#!/usr/bin/env node
// Bundles each executable (stafd, stacd, stafctl, stacctl, stasadm) into one
// ESM file under dist/bundle/, so the installed tools start fast and need no
// node_modules tree. koffi (a native module) stays external and is copied
// beside the bundles by scripts/install.sh. Run after `tsc -b` (it bundles the
// compiled dist/ output, so type errors never reach a bundle).
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ENTRIES = {
  stafd: 'packages/stafd/dist/main.js',
  stafctl: 'packages/stafd/dist/cli/main.js',
  stacd: 'packages/stacd/dist/main.js',
  stacctl: 'packages/stacd/dist/cli/main.js',
  stasadm: 'packages/stasadm/dist/main.js',
};

const present = Object.entries(ENTRIES).filter(([, entry]) => existsSync(`${root}/${entry}`));
for (const [name, entry] of present) {
  await build({
    absWorkingDir: root,
    entryPoints: { [name]: entry },
    outdir: 'dist/bundle',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    // CommonJS dependencies (dbus-next, pino) call require(); give the ESM bundle one.
    banner: {
      js: "#!/usr/bin/env node\nimport { createRequire as __stasCreateRequire } from 'node:module';\nconst require = __stasCreateRequire(import.meta.url);",
    },
    external: ['koffi', 'x11', 'usocket'],
    logLevel: 'warning',
  });
}
process.stdout.write(`bundled: ${present.map(([name]) => name).join(' ')}\n`);
