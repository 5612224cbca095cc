/**
 * stasadm entry point: the only place that touches process state and exits.
 */
import { runStasadm } from './cli.js';

const status = await runStasadm(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
process.exitCode = status;
