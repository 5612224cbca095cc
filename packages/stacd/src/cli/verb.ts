/**
 * What a stacctl verb is: its name, help, and a run function that parses its own arguments. Each verb
 * lives in its own module (ls, status, tron/troff, explain) and is listed once in stacctl.ts.
 *
 * Types and two helpers only. Used by: stacctl.ts, the *-command.ts modules. Tests: stacctl.test.ts
 */
import { parseArgs } from 'node:util';

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

type FlagOptions = Record<string, { type: 'boolean'; short?: string }>;

/**
 * The preamble every option-taking verb shares: parse `--json`, `-h/--help` and the verb's own boolean
 * flags (strict, no positionals). Returns the flags to run with, or the exit status when the verb is done
 * already (help printed: 0; usage error printed: 2).
 */
export function parseVerbFlags<K extends string>(
  argv: readonly string[],
  ctx: CliContext,
  verb: {
    readonly name: string;
    readonly usage: string;
    readonly flags?: Record<K, { type: 'boolean'; short?: string }>;
  },
): { readonly json: boolean; readonly flags: Readonly<Record<K, boolean>> } | number {
  const own: FlagOptions = verb.flags ?? {};
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...own, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return usageError(ctx, err instanceof Error ? err.message : String(err), verb.name);
  }
  if (values['help'] === true) {
    ctx.out(`${verb.usage}\n`);
    return 0;
  }
  const flags = Object.fromEntries(Object.keys(own).map((k) => [k, values[k] === true])) as Record<
    K,
    boolean
  >;
  return { json: values['json'] === true, flags };
}
