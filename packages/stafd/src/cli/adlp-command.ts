/**
 * `stafctl adlp [-d|--detailed] [--json] [--bus-address ADDRESS]`: every discovery controller's cached
 * log page entries (get_all_log_pages). JSON: the list stafd returns, as
 * `{"discovery-controllers": [{"discovery-controller": {…}, "log-pages": [<entry>, …]}, …]}`.
 *
 * I/O through staf-client.ts (one call). Exit status 0, 1, 2 (usage).
 *
 * Tests: stafctl-verbs.test.ts, test/integration/stafd-stafctl.test.ts
 */
import { ALL_LOG_PAGES_KEYS, type StringDict } from '@stas/common/dbus/api-shared';
import { STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { describeController, entriesTable } from './dbus-format.js';
import { STAF, withStafd } from './staf-client.js';
import { COMMON_HELP, parseVerbArgs } from './verb-args.js';
import { usageError, type CliContext, type StafctlVerb } from './verb.js';

export const ADLP_USAGE = `usage: stafctl adlp [-d] [--json] [--bus-address ADDRESS]

Show the cached discovery log page entries of every discovery controller.

options:
  -d, --detailed              describe each controller in detail
${COMMON_HELP}`;

interface DcPages {
  readonly controller: StringDict;
  readonly entries: readonly StringDict[];
}

/** Reads get_all_log_pages' JSON defensively (it comes from another process). */
export function parseAllLogPages(json: string): DcPages[] | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (!Array.isArray(value)) return null;
  const strings = (v: unknown): StringDict | null => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
    const out: StringDict = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'string') return null;
      out[k] = x;
    }
    return out;
  };
  const result: DcPages[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return null;
    const record = item as Record<string, unknown>;
    const controller = strings(record[ALL_LOG_PAGES_KEYS.controller]);
    const pages = record[ALL_LOG_PAGES_KEYS.logPages];
    if (controller === null || !Array.isArray(pages)) return null;
    const entries = (pages as unknown[]).map(strings);
    if (entries.some((e) => e === null)) return null;
    result.push({ controller, entries: entries as StringDict[] });
  }
  return result;
}

export async function runAdlp(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseVerbArgs(argv, { detailed: { type: 'boolean', short: 'd' } });
  if (!parsed.ok) return usageError(ctx, `adlp: ${parsed.message}`, 'adlp');
  const { values } = parsed;
  if (values.help === true) {
    ctx.out(ADLP_USAGE + '\n');
    return 0;
  }
  const detailed = values.detailed === true;
  return withStafd(ctx, values['bus-address'], 'get_all_log_pages', async (bus) => {
    const json = await bus.callMethod(STAF, STAF_INTERFACE, 'get_all_log_pages', { detailed });
    const dcs = parseAllLogPages(json);
    if (dcs === null) {
      ctx.err('stafctl: get_all_log_pages returned malformed JSON\n');
      return 1;
    }
    if (values.json === true) {
      const list = dcs.map((dc) => ({
        [ALL_LOG_PAGES_KEYS.controller]: dc.controller,
        [ALL_LOG_PAGES_KEYS.logPages]: dc.entries,
      }));
      ctx.out(JSON.stringify({ 'discovery-controllers': list }, null, 2) + '\n');
      return 0;
    }
    if (dcs.length === 0) {
      ctx.out('no discovery controllers\n');
      return 0;
    }
    ctx.out(
      dcs
        .map((dc) => {
          const state = dc.controller['log-pages-state'];
          const head = `${describeController(dc.controller)}${state === undefined ? '' : ` [${state}]`}`;
          return `${head}: ${dc.entries.length} entries\n${entriesTable(dc.entries, '  ')}`;
        })
        .join('\n'),
    );
    return 0;
  });
}

export const adlpVerb: StafctlVerb = {
  name: 'adlp',
  summary: 'show the cached log pages of every discovery controller',
  run: runAdlp,
};
