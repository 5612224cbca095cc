// Fails any test that writes to the console: production code logs through an
// injected logger, and tests assert on what it recorded instead of printing.
import { afterEach } from 'vitest';

const written: string[] = [];
for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
  console[method] = (...args: unknown[]): void => {
    written.push(`console.${method}: ${args.map(String).join(' ')}`);
  };
}

afterEach(() => {
  if (written.length > 0) {
    const lines = written.splice(0);
    throw new Error(`test wrote to the console:\n${lines.join('\n')}`);
  }
});
