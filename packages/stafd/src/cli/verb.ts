/**
 * What a stafctl verb is: its name, help, and a run function that parses its own arguments. Each verb
 * lives in its own module (discover-command.ts now; ls, status, dlp, adlp, tron, troff over D-Bus
 * later) and is listed once in stafctl.ts.
 *
 * Types only.
 *
 * Used by: stafctl.ts, the *-command.ts modules
 * Tests:   stafctl.test.ts
 */

/** What the command line gets from its caller (main.ts, or a test). */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface StafctlVerb {
  readonly name: string;
  /** One line for the command list of `stafctl --help`. */
  readonly summary: string;
  /** Run with the arguments after the verb; returns the exit status (0, 1, or 2 for usage errors). */
  readonly run: (argv: readonly string[], ctx: CliContext) => Promise<number>;
}

/** Print a usage error the same way for every verb; returns 2. */
export function usageError(ctx: CliContext, message: string, verb?: string): number {
  const help = verb === undefined ? 'stafctl --help' : `stafctl ${verb} --help`;
  ctx.err(`stafctl: ${message}\nTry '${help}'.\n`);
  return 2;
}
