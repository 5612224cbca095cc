/**
 * stafd's `get_all_log_pages(true)` JSON, read back into the planner's
 * DiscoveredPage records, and validated: D-Bus input is hostile until parsed.
 *
 * Pure. `parseAllLogPages(text)` returns every page it could read plus
 * problems (strings for a warning log); it never throws.
 *
 * Shape (behaviour spec §2.3, plus stas's `log-pages-state`):
 * `[{"discovery-controller": {traddr, trsvcid, transport, subsysnqn,
 *   host-iface, host-traddr, host-nqn, [host-id], [log-pages-state], …},
 *   "log-pages": [{trtype, adrfam, traddr, trsvcid, subnqn, subtype, treq,
 *   eflags, …}, …]}, …]`.
 *
 * Decisions, all on the side of "unknown is not empty":
 * - The whole text is not a JSON list → null (the caller treats stafd's
 *   answer as unknown).
 * - `log-pages-state` `fresh`/`stale`/`unknown` is used as given. When absent
 *   (an older stafd), a page with entries is `stale` (known, maybe old) and an
 *   empty one `unknown` (never read and "read, empty" look alike).
 * - A DC element or an entry that cannot be read makes that DC's page
 *   `unknown`: a page missing an entry must not disconnect its controller.
 * - Entry values: the strings stafd sends (dlpe-dict.ts); `treq` is a name
 *   (`not specified`, `required`, `not required`, `disable sqflow`) or a
 *   decimal; `eflags` a decimal (absent: 0).
 *
 * Used by: observe.ts. Tests: stafd-pages.test.ts
 */
import { createTid, formatTid, isTransport } from '@stas/common/nvme/tid';
import type { DiscoveredEntry, DiscoveredPage, PageState } from './plan.js';

export interface ParsedPages {
  readonly pages: DiscoveredPage[];
  readonly problems: string[];
}

const MAX_FIELD = 256;
const MAX_DCS = 4096;
const MAX_ENTRIES = 4096;
const TREQ_NAMES: Readonly<Record<string, number>> = {
  'not specified': 0,
  required: 1,
  'not required': 2,
  'disable sqflow': 4,
};
const PAGE_STATES: readonly PageState[] = ['fresh', 'stale', 'unknown'];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A clean string field: a string of at most 256 characters without control characters; else null. */
function field(dict: Record<string, unknown>, key: string, fallback?: string): string | null {
  const v = dict[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string' || v.length > MAX_FIELD || /\p{Cc}/u.test(v)) return null;
  return v.trim();
}

function decimal(text: string, max: number): number | null {
  if (!/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

/** One log page entry dict, or null when a needed key is missing or malformed. */
export function entryFromDict(value: unknown): DiscoveredEntry | null {
  if (!isRecord(value)) return null;
  const trtype = field(value, 'trtype');
  const traddr = field(value, 'traddr');
  const trsvcid = field(value, 'trsvcid', '');
  const subnqn = field(value, 'subnqn');
  const subtype = field(value, 'subtype');
  const eflagsText = field(value, 'eflags', '0');
  const treqText = field(value, 'treq', '0');
  if (
    trtype === null ||
    traddr === null ||
    trsvcid === null ||
    subnqn === null ||
    subtype === null ||
    eflagsText === null ||
    treqText === null
  )
    return null;
  const eflags = decimal(eflagsText, 0xffff);
  const treq = TREQ_NAMES[treqText] ?? decimal(treqText, 0xff);
  if (eflags === null || treq === null) return null;
  return { subtype, trtype, traddr, trsvcid, subnqn, eflags, treq };
}

interface DcFields {
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly hostTraddr: string;
  readonly hostIface: string;
  readonly hostNqn: string;
  readonly hostId: string;
  readonly state: PageState | undefined;
}

function dcFromDict(value: unknown): DcFields | null {
  if (!isRecord(value)) return null;
  const get = (key: string): string | null => field(value, key, '');
  const fields = {
    transport: get('transport'),
    traddr: get('traddr'),
    trsvcid: get('trsvcid'),
    subsysnqn: get('subsysnqn'),
    hostTraddr: get('host-traddr'),
    hostIface: get('host-iface'),
    hostNqn: get('host-nqn'),
    hostId: get('host-id'),
    stateText: get('log-pages-state'),
  };
  const { stateText, ...rest } = fields;
  if (Object.values(fields).some((v) => v === null)) return null;
  const state = PAGE_STATES.find((s) => s === stateText);
  if (stateText !== '' && state === undefined) return null;
  return { ...(rest as Record<keyof typeof rest, string>), state };
}

/** `(tcp, 10.0.0.1, 8009, nqn…)` for a valid transport; a plain description otherwise. */
function dcLabel(dc: DcFields): string {
  if (isTransport(dc.transport)) {
    return formatTid(
      createTid(
        {
          transport: dc.transport,
          traddr: dc.traddr,
          trsvcid: dc.trsvcid,
          subsysnqn: dc.subsysnqn,
          hostTraddr: dc.hostTraddr,
          hostIface: dc.hostIface,
        },
        { role: 'discovery' },
      ),
    );
  }
  return `(${dc.transport}, ${dc.traddr}, ${dc.trsvcid})`;
}

function unknownPage(dc: string): DiscoveredPage {
  return {
    dc,
    transport: '',
    hostTraddr: '',
    hostIface: '',
    hostNqn: '',
    hostId: '',
    state: 'unknown',
    entries: [],
  };
}

/** Parse get_all_log_pages' JSON (see the module header); null when it is not a list at all. */
export function parseAllLogPages(text: string): ParsedPages | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(json)) return null;
  const pages: DiscoveredPage[] = [];
  const problems: string[] = [];
  for (const [i, item] of (json as unknown[]).slice(0, MAX_DCS).entries()) {
    const dc = isRecord(item) ? dcFromDict(item['discovery-controller']) : null;
    if (dc === null) {
      problems.push(`element ${i}: no usable discovery-controller; counted as a DC whose page is unknown`);
      pages.push(unknownPage(`(element ${i})`));
      continue;
    }
    const label = dcLabel(dc);
    const raw = isRecord(item) ? item['log-pages'] : undefined;
    const list: unknown[] = Array.isArray(raw) ? (raw as unknown[]) : [];
    const entries: DiscoveredEntry[] = [];
    let broken = !Array.isArray(raw) || list.length > MAX_ENTRIES;
    for (const value of list.slice(0, MAX_ENTRIES)) {
      const e = entryFromDict(value);
      if (e === null) broken = true;
      else entries.push(e);
    }
    let state: PageState = dc.state ?? (entries.length > 0 ? 'stale' : 'unknown');
    if (broken) {
      problems.push(`DC ${label}: its log page has unreadable entries; counted as unknown`);
      state = 'unknown';
    }
    pages.push({
      dc: label,
      transport: dc.transport,
      hostTraddr: dc.hostTraddr,
      hostIface: dc.hostIface,
      hostNqn: dc.hostNqn,
      hostId: dc.hostId,
      state,
      entries,
    });
  }
  if (json.length > MAX_DCS) {
    problems.push(`more than ${MAX_DCS} DCs; the rest are ignored and discovery counts as incomplete`);
    pages.push({ ...unknownPage(`(${json.length - MAX_DCS} more DCs)`) });
  }
  return { pages, problems };
}
