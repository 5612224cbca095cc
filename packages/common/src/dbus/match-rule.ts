/**
 * D-Bus match rules (the strings given to org.freedesktop.DBus.AddMatch/RemoveMatch): building one from
 * fields with the spec's quoting, so that the same subscription always yields the same text (bus.ts
 * reference-counts rules by text, so AddMatch and RemoveMatch stay balanced).
 *
 * Pure. Throws BusError DBUS_INVALID_ARGS for an empty rule. Tests: match-rule.test.ts
 */
import { BusError } from './bus-error.js';

export interface MatchRuleFields {
  readonly type?: 'signal' | 'method_call' | 'method_return' | 'error';
  readonly sender?: string;
  readonly path?: string;
  readonly interface?: string;
  readonly member?: string;
  /** Match on the first string argument (e.g. the name in NameOwnerChanged). */
  readonly arg0?: string;
}

const ORDER = ['type', 'sender', 'interface', 'member', 'path', 'arg0'] as const;

/** Quote a value: inside single quotes; an apostrophe is written as '\'' (close, escaped quote, reopen). */
export function quoteMatchValue(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** The match rule text for `fields`, keys in a fixed order. */
export function buildMatchRule(fields: MatchRuleFields): string {
  const parts: string[] = [];
  for (const key of ORDER) {
    const value = fields[key];
    if (value !== undefined) parts.push(`${key}=${quoteMatchValue(value)}`);
  }
  if (parts.length === 0) throw new BusError('DBUS_INVALID_ARGS', 'a match rule needs at least one field');
  return parts.join(',');
}
