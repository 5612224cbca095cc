/**
 * stafd's entry point (bin/stafd.js imports the compiled ../dist/main.js): argv → logger →
 * stafd-app.ts (config, bus, daemon) → signals. The only stafd module that touches process
 * state and exits.
 *
 * Signals: SIGHUP → reload (RELOADING=1 … READY=1); SIGTERM/SIGINT → stop once (a repeated signal
 * during the stop is ignored), then exit 0. A start-up failure prints one line
 * `stafd: <reason>` on stderr (and logs it) and exits 1; a usage error exits 2.
 */
import { StasError, describeError } from '@stas/common/errors';
import { chooseLogFormat, createLogger } from '@stas/common/log/logger';
import { createNotifier } from '@stas/common/systemd/sd-notify';
import { versionText } from '@stas/common/version';
import { STAFD_USAGE, parseStafdArgs } from './main-args.js';
import { startStafd, type StafdApp } from './stafd-app.js';

const args = parseStafdArgs(process.argv.slice(2));
if (args.kind === 'help') {
  process.stdout.write(STAFD_USAGE + '\n');
  process.exit(0);
}
if (args.kind === 'version') {
  process.stdout.write(versionText('stafd') + '\n');
  process.exit(0);
}
if (args.kind === 'usage-error') {
  process.stderr.write(`stafd: error: ${args.message}\nTry 'stafd --help'.\n`);
  process.exit(2);
}
const options = args.options;

const log = createLogger({
  name: 'stafd',
  level: options.tron ? 'debug' : 'info',
  format: chooseLogFormat(process.env, process.stderr.isTTY, options.logFormat),
});
const notifier = createNotifier({
  env: process.env,
  pid: process.pid,
  monotonicUsec: () => process.hrtime.bigint() / 1000n,
  onError: (err) => {
    log.warn({ err: describeError(err) }, 'sd_notify failed');
  },
});

// Signal handlers go in BEFORE start-up: startStafd sends READY=1 itself, and a
// SIGTERM or SIGHUP arriving right after it must not meet the default action
// (which kills the process). Signals during start-up are remembered and acted
// on once the daemon is up.
let app: StafdApp | undefined;
let exiting = false;
const pending: { stop: string | undefined; reload: boolean } = { stop: undefined, reload: false };

const shutdown = (running: StafdApp, code: number, why: string): void => {
  if (exiting) return;
  exiting = true;
  log.info({ why }, 'stopping');
  running.stop().then(
    () => {
      process.exit(code);
    },
    (err: unknown) => {
      log.error({ err: describeError(err) }, 'stop failed');
      process.exit(1);
    },
  );
};

const reload = (running: StafdApp): void => {
  if (exiting) return;
  log.info('SIGHUP: reloading the configuration');
  running.reload().catch((err: unknown) => {
    log.error({ err: describeError(err) }, 'reload failed');
  });
};

process.on('SIGHUP', () => {
  if (app === undefined) pending.reload = true;
  else reload(app);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (app === undefined) pending.stop ??= signal;
    else shutdown(app, 0, signal);
  });
}

try {
  app = await startStafd({
    env: process.env,
    log,
    notifier,
    forceTron: options.tron,
    ...(options.confFile !== undefined ? { confFile: options.confFile } : {}),
    ...(options.busAddress !== undefined ? { busAddress: options.busAddress } : {}),
  });
} catch (err) {
  const message = describeError(err);
  log.fatal({ code: err instanceof StasError ? err.code : undefined }, message);
  process.stderr.write(`stafd: ${message}\n`);
  process.exit(1);
}

const running = app;
if (pending.stop !== undefined) shutdown(running, 0, pending.stop);
else if (pending.reload) reload(running);

void running.fatal.then((err) => {
  log.fatal({ err: err.message }, 'stafd cannot go on');
  process.stderr.write(`stafd: ${err.message}\n`);
  shutdown(running, 1, 'fatal');
});
