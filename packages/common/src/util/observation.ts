/**
 * "No answer" is not "empty answer": the result of looking at something that
 * may not be there (stafd over D-Bus, the mDNS browser, a log page cache).
 *
 * Planners take `Observation<T>` wherever data can be missing and must treat
 * `ok: false` as "unknown": keep what was learnt before, never remove or
 * disconnect because of it.
 */
export type UnknownReason = 'not-running' | 'timeout' | 'error' | 'not-loaded';

export type Observation<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: UnknownReason; readonly detail?: string };

export function observed<T>(value: T): Observation<T> {
  return { ok: true, value };
}

export function unknown<T>(reason: UnknownReason, detail?: string): Observation<T> {
  return detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
}
