/**
 * Asking stafd for its log pages over D-Bus (`get_all_log_pages(true)`), as
 * an Observation: "stafd did not answer" is `ok: false`, never an empty list
 * (behaviour spec §9 F5; the reason nvme-stas disconnected everything).
 *
 * I/O: one method call on the given bus connection. Never throws:
 * - no bus connection, or nobody owns org.nvmexpress.staf → `not-running`;
 * - no reply in time → `timeout`;
 * - any other D-Bus error, or a reply that is not a JSON list → `error`.
 * A readable reply with unreadable parts yields pages marked `unknown`
 * (stafd-pages.ts) plus `problems` for the log.
 *
 * Used by: observe.ts. Tests: stafd-client.test.ts (errors), the stacd
 * integration tests (a fake stafd on a private bus).
 */
import type { SystemBus } from '@stas/common/dbus/bus';
import { BusError } from '@stas/common/dbus/bus-error';
import { STAF_API, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { describeError } from '@stas/common/errors';
import type { Observation } from '@stas/common/util/observation';
import { observed, unknown } from '@stas/common/util/observation';
import type { DiscoveredPage } from './plan.js';
import { parseAllLogPages } from './stafd-pages.js';

export const DEFAULT_STAFD_TIMEOUT_MS = 5000;

export interface StafdPages {
  readonly discovered: Observation<readonly DiscoveredPage[]>;
  readonly problems: readonly string[];
}

/** The part of SystemBus this needs (tests pass a stand-in). */
export type StafdCaller = Pick<SystemBus, 'callMethod'>;

export async function fetchStafdPages(
  bus: StafdCaller | null,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<StafdPages> {
  if (bus === null) return { discovered: unknown('not-running', 'no D-Bus connection'), problems: [] };
  let text: string;
  try {
    text = await bus.callMethod(
      STAF_API,
      STAF_INTERFACE,
      'get_all_log_pages',
      { detailed: true },
      {
        timeoutMs: opts.timeoutMs ?? DEFAULT_STAFD_TIMEOUT_MS,
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      },
    );
  } catch (err) {
    if (err instanceof BusError) {
      if (err.code === 'DBUS_SERVICE_UNKNOWN' || err.code === 'DBUS_DISCONNECTED')
        return { discovered: unknown('not-running', err.message), problems: [] };
      if (err.code === 'DBUS_TIMEOUT') return { discovered: unknown('timeout', err.message), problems: [] };
    }
    return { discovered: unknown('error', describeError(err)), problems: [] };
  }
  const parsed = parseAllLogPages(text);
  if (parsed === null) {
    return {
      discovered: unknown('error', 'stafd answered get_all_log_pages with something that is not a JSON list'),
      problems: [],
    };
  }
  return { discovered: observed(parsed.pages), problems: parsed.problems };
}
