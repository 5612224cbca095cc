/**
 * What a stacctl verb is: its name, help, and a run function that parses its own arguments. Each verb
 * lives in its own module (ls, status, tron/troff, explain) and is listed once in stacctl.ts.
 *
 * Types and one helper only. Used by: stacctl.ts, the *-command.ts modules. Tests: stacctl.test.ts
 */

/** What the command line gets from its caller (main.ts, or a test). */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** --bus-address given before the verb; default: DBUS_SYSTEM_BUS_ADDRESS, then the system bus. */
  readonly busAddress?: string;
}

export interface StacctlVerb {
  readonly name: string;
  /** One line for the command list of `stacctl --help`. */
  readonly summary: string;
  /** Run with the arguments after the verb; returns the exit status (0, 1, or 2 for usage errors). */
  readonly run: (argv: readonly string[], ctx: CliContext) => Promise<number>;
}

/** Print a usage error the same way for every verb; returns 2. */
export function usageError(ctx: CliContext, message: string, verb?: string): number {
  const help = verb === undefined ? 'stacctl --help' : `stacctl ${verb} --help`;
  ctx.err(`stacctl: ${message}\nTry '${help}'.\n`);
  return 2;
}
