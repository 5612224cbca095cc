/**
 * Option parsing shared by stafctl's D-Bus verbs: each verb's own options plus `--json`,
 * `--bus-address ADDRESS` and `-h/--help`, through node:util parseArgs (strict, no positionals).
 *
 * Pure. Returns the values or a usage-error message; never throws.
 *
 * Used by: ls, status, dlp, adlp, tron/troff command modules
 * Tests:   through the verbs' tests (stafctl-verbs.test.ts)
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { describeError } from '@stas/common/errors';

type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  'bus-address': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const COMMON_HELP = `      --json                  JSON output (schema: packages/stafd/docs/stafctl.md)
      --bus-address ADDRESS   D-Bus address of the system bus (default: DBUS_SYSTEM_BUS_ADDRESS,
                              then unix:path=/run/dbus/system_bus_socket)
  -h, --help                  print this help`;

export type ParsedVerbArgs<O extends Options> =
  | {
      readonly ok: true;
      readonly values: ReturnType<
        typeof parseArgs<{ options: O & typeof COMMON_OPTIONS; strict: true; allowPositionals: false }>
      >['values'];
    }
  | { readonly ok: false; readonly message: string };

export function parseVerbArgs<O extends Options>(argv: readonly string[], options: O): ParsedVerbArgs<O> {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { ...options, ...COMMON_OPTIONS },
      strict: true,
      allowPositionals: false,
    });
    return { ok: true, values };
  } catch (err) {
    return { ok: false, message: describeError(err) };
  }
}
