#!/usr/bin/env node
// Bundles each executable (stafd, stacd, stafctl, stacctl, stasadm) into one
// ESM file under dist/bundle/, so the installed tools start fast and need no
// node_modules tree. koffi (a native module) stays external and is copied
// beside the bundles by scripts/install.sh. Run after `tsc -b` (it bundles the
// compiled dist/ output, so type errors never reach a bundle).
//
//   node scripts/bundle.mjs [--outdir DIR] [NAME...]
//
// --outdir (default dist/bundle) and NAMEs (default: all) let the benchmarks
// bundle the daemons privately. The bundles are executable; the unit files
// run them through their shebang line, which is where the daemons' node flags
// live (DAEMON_NODE_FLAGS below; packages/*/bin/*d.js carry the same ones).
// Whitespace and syntax are minified (names are kept, so stack traces still
// name their functions): V8 keeps each script's source in the heap for as
// long as the process lives, and the smaller source saves ~1 MB of an idle
// daemon's RSS.
import { build } from 'esbuild';
import { chmodSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const ENTRIES = {
  stafd: 'packages/stafd/dist/main.js',
  stafctl: 'packages/stafd/dist/cli/main.js',
  stacd: 'packages/stacd/dist/main.js',
  stacctl: 'packages/stacd/dist/cli/main.js',
  stasadm: 'packages/stasadm/dist/main.js',
};
// A young generation of at most 2 × 1 MB: the daemons allocate little once
// started, and V8's default (semi-spaces growing to 16 MB) leaves several MB
// of young generation committed after start-up. `env -S` (GNU coreutils 8.30)
// passes the flag through the shebang line.
const DAEMON_NODE_FLAGS = '--max-semi-space-size=1';
const DAEMONS = new Set(['stafd', 'stacd']);

const { values, positionals } = parseArgs({
  options: { outdir: { type: 'string', default: 'dist/bundle' } },
  allowPositionals: true,
});
const unknown = positionals.filter((name) => !(name in ENTRIES));
if (unknown.length > 0) {
  process.stderr.write(
    `bundle.mjs: unknown executable ${unknown.join(' ')} (known: ${Object.keys(ENTRIES).join(' ')})\n`,
  );
  process.exit(2);
}
const wanted = positionals.length > 0 ? new Set(positionals) : null;
const present = Object.entries(ENTRIES).filter(
  ([name, entry]) => (wanted === null || wanted.has(name)) && existsSync(`${root}/${entry}`),
);
for (const [name, entry] of present) {
  const shebang = DAEMONS.has(name) ? `#!/usr/bin/env -S node ${DAEMON_NODE_FLAGS}` : '#!/usr/bin/env node';
  await build({
    absWorkingDir: root,
    entryPoints: { [name]: entry },
    outdir: values.outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: false,
    legalComments: 'none',
    // CommonJS dependencies (dbus-next, pino) call require(); give the ESM bundle one.
    banner: {
      js: `${shebang}\nimport { createRequire as __stasCreateRequire } from 'node:module';\nconst require = __stasCreateRequire(import.meta.url);`,
    },
    external: ['koffi', 'x11', 'usocket'],
    logLevel: 'warning',
  });
  chmodSync(resolve(root, values.outdir, `${name}.mjs`), 0o755);
}
process.stdout.write(`bundled: ${present.map(([name]) => name).join(' ')}\n`);
