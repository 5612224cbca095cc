/**
 * stacctl entry point (bin/stacctl.js imports the compiled ../dist/cli/main.js): the only place that
 * touches process state. It sets the exit status instead of calling process.exit(), so pending output
 * is flushed.
 */
import { runStacctl } from './stacctl.js';

process.exitCode = await runStacctl(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
