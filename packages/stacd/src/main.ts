/**
 * stacd entry point (bin/stacd.js imports the compiled ../dist/main.js): the
 * only file that touches process state — argv, environment, signals, exit
 * status — and wires the daemon together: logger, fabrics device (kernel, or
 * dry run), uevent monitor, sd_notify, StacDaemon.
 *
 * sd_notify: READY=1 once the bus name is claimed and the first round ran;
 * RELOADING=1 … READY=1 around SIGHUP; STOPPING=1 on SIGTERM/SIGINT; STATUS=
 * after rounds; WATCHDOG=1 every half WatchdogSec while the loop turns.
 *
 * Exit status: 0 after a clean stop; 1 when it cannot start (not root
 * outside dry-run, no host identity, unreadable stacd.conf, another stacd on
 * the bus); 2 for usage errors.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '@stas/common/errors';
import { KernelFabricsDevice } from '@stas/common/kernel/fabrics-device';
import type { FabricsDevice } from '@stas/common/kernel/fabrics-device';
import { UeventMonitor } from '@stas/common/kernel/uevents';
import { chooseLogFormat, createLogger } from '@stas/common/log/logger';
import { resolvePaths } from '@stas/common/paths';
import { createNotifier } from '@stas/common/systemd/sd-notify';
import { versionText } from '@stas/common/version';
import { USAGE, parseStacdArgs } from './args.js';
import { StacDaemon } from './daemon.js';
import { DryRunFabricsDevice } from './dry-run-fabrics.js';

async function main(): Promise<number> {
  const parsed = parseStacdArgs(process.argv.slice(2));
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      process.stdout.write(`${versionText('stacd')}\n`);
      return 0;
    case 'error':
      process.stderr.write(`stacd: ${parsed.message}\nTry 'stacd --help'.\n`);
      return 2;
    case 'run':
      break;
  }
  const args = parsed.args;
  const env = process.env;
  const paths = resolvePaths(env);
  const format = chooseLogFormat(env, process.stderr.isTTY, args.logFormat);
  const log = createLogger({ name: 'stacd', level: args.tron ? 'debug' : 'info', format });

  let dryRun = args.dryRun;
  if (!dryRun && !existsSync(paths.fabricsDevice)) {
    log.warn(`${paths.fabricsDevice} does not exist (nvme-fabrics not loaded?): running as --dry-run`);
    dryRun = true;
  }
  if (!dryRun && process.geteuid?.() !== 0) {
    process.stderr.write(
      'stacd: Permission denied. You need root privileges to run stacd (or use --dry-run).\n',
    );
    return 1;
  }
  const fabrics: FabricsDevice = dryRun
    ? new DryRunFabricsDevice(log)
    : new KernelFabricsDevice({ fabricsDevice: paths.fabricsDevice, sys: paths.sys });
  const notifier = createNotifier({
    env,
    pid: process.pid,
    monotonicUsec: () => process.hrtime.bigint() / 1000n,
    onError: (err) => {
      log.debug({ err }, `sd_notify failed: ${describeError(err)}`);
    },
  });
  const uevents = new UeventMonitor();
  const daemon = new StacDaemon({
    confFile: args.confFile ?? join(paths.etcStas, 'stacd.conf'),
    sysConfFile: join(paths.etcStas, 'sys.conf'),
    paths,
    log,
    fabrics,
    dryRun,
    tron: args.tron,
    env,
    ...(args.busAddress === undefined ? {} : { busAddress: args.busAddress }),
    uevents,
    notifier,
  });

  let stopping: Promise<void> | undefined;
  let reloading = Promise.resolve();
  const stop = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      log.info(`${signal}: stopping`);
      await daemon.stop();
      uevents.close();
      await fabrics.close();
    })();
    return stopping;
  };
  const stopped = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        void stop(signal).then(resolve);
      });
    }
  });
  process.on('SIGHUP', () => {
    reloading = reloading.then(() =>
      daemon.reload().catch((err: unknown) => {
        log.error({ err }, `reload failed: ${describeError(err)}`);
      }),
    );
  });

  try {
    await daemon.start();
  } catch (err) {
    log.error({ err }, `cannot start: ${describeError(err)}`);
    await stop('start failure');
    return 1;
  }
  await daemon.settled();
  notifier.ready(daemon.processInfo()['status'] as string);
  log.info(`${versionText('stacd')} running${dryRun ? ' (dry run)' : ''}`);
  let watchdog: NodeJS.Timeout | undefined;
  if (notifier.watchdogIntervalMs !== null) {
    watchdog = setInterval(() => {
      notifier.watchdog();
    }, notifier.watchdogIntervalMs);
  }
  await stopped;
  clearInterval(watchdog);
  return 0;
}

process.exitCode = await main();
// Everything is closed by now; should a stray handle keep the loop alive, do not hang the service stop.
setTimeout(() => process.exit(), 2000).unref();
