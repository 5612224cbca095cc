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

let app: StafdApp;
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

let exiting = false;
const shutdown = (code: number, why: string): void => {
  if (exiting) return;
  exiting = true;
  log.info({ why }, 'stopping');
  app.stop().then(
    () => {
      process.exit(code);
    },
    (err: unknown) => {
      log.error({ err: describeError(err) }, 'stop failed');
      process.exit(1);
    },
  );
};

process.on('SIGHUP', () => {
  if (exiting) return;
  log.info('SIGHUP: reloading the configuration');
  app.reload().catch((err: unknown) => {
    log.error({ err: describeError(err) }, 'reload failed');
  });
});
process.on('SIGTERM', () => {
  shutdown(0, 'SIGTERM');
});
process.on('SIGINT', () => {
  shutdown(0, 'SIGINT');
});
void app.fatal.then((err) => {
  log.fatal({ err: err.message }, 'stafd cannot go on');
  process.stderr.write(`stafd: ${err.message}\n`);
  shutdown(1, 'fatal');
});
