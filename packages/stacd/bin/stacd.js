#!/usr/bin/env -S node --max-semi-space-size=1
// Launcher: the compiled entry point lives in dist/ (npm run build). The node
// flag is the daemons' own (see DAEMON_NODE_FLAGS in scripts/bundle.mjs, which
// gives the installed bundle the same shebang); `node bin/stacd.js` runs without it.
import '../dist/main.js';
