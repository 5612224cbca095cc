/**
 * Value types of configuration options: how the text after `key =` becomes a
 * typed value, and what the option is when the text is absent or unusable.
 *
 * Pure. An `OptionSpec` never throws: `parse` returns either the value or a
 * message saying what was expected; the caller turns that into a diagnostic
 * and applies the default. Daemon schemas (stafd-conf.ts, stacd-conf.ts) are
 * built from these specs, so validation, defaults and `stasadm check --json`
 * all come from one table.
 *
 * Tests: option-types.test.ts
 */
import { parseTimeSpec } from './time-spec.js';

export type ParseOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly warning?: string }
  | { readonly ok: false; readonly message: string };

export interface OptionSpec<T> {
  /** What the option accepts, for messages and documentation ("boolean", "integer 16..1024"). */
  readonly accepts: string;
  readonly default: T;
  parse(raw: string): ParseOutcome<T>;
}

const ok = <T>(value: T, warning?: string): ParseOutcome<T> =>
  warning === undefined ? { ok: true, value } : { ok: true, value, warning };
const fail = <T>(message: string): ParseOutcome<T> => ({ ok: false, message });

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/**
 * true/false, case-insensitive. yes/no, on/off and 1/0 are accepted too, as
 * systemd does: nvme-stas silently ignored them, which surprised admins.
 */
export function boolOption(defaultValue: boolean): OptionSpec<boolean> {
  return {
    accepts: 'true or false',
    default: defaultValue,
    parse(raw) {
      const word = raw.toLowerCase();
      if (TRUE_WORDS.has(word)) return ok(true);
      if (FALSE_WORDS.has(word)) return ok(false);
      return fail(`expected true or false, got "${raw}"`);
    },
  };
}

/** `enabled`/`disabled`, case-insensitive (pleo, zeroconf). */
export function enabledOption(defaultValue: boolean): OptionSpec<boolean> {
  return {
    accepts: 'enabled or disabled',
    default: defaultValue,
    parse(raw) {
      const word = raw.toLowerCase();
      if (word === 'enabled') return ok(true);
      if (word === 'disabled') return ok(false);
      return fail(`expected enabled or disabled, got "${raw}"`);
    },
  };
}

/** Strict decimal integer: optional sign, digits only (no hex, no `_`, no fraction). */
export function parseDecimal(raw: string): number | null {
  if (!/^[+-]?\d{1,15}$/.test(raw)) return null;
  return Number.parseInt(raw, 10);
}

/**
 * An integer within [min, max]. `defaultValue` null means "not set": nothing is
 * sent to the kernel and the kernel's own default applies.
 */
export function intOption<D extends number | null>(
  defaultValue: D,
  range: { min: number; max: number },
): OptionSpec<number | D> {
  return {
    accepts: `integer ${range.min}..${range.max}`,
    default: defaultValue,
    parse(raw) {
      const n = parseDecimal(raw);
      if (n === null) return fail(`expected an integer, got "${raw}"`);
      if (n < range.min || n > range.max) return fail(`${n} is not within ${range.min}..${range.max}`);
      return ok(n);
    },
  };
}

/** Exactly one of a fixed set of words (case-sensitive, as nvme-stas). */
export function oneOfOption<const V extends string>(values: readonly V[], defaultValue: V): OptionSpec<V> {
  return {
    accepts: values.join(' | '),
    default: defaultValue,
    parse(raw) {
      const found = values.find((v) => v === raw);
      if (found !== undefined) return ok(found);
      const folded = values.find((v) => v.toLowerCase() === raw.toLowerCase());
      if (folded !== undefined) return ok(folded, `"${raw}" taken as "${folded}" (values are lower case)`);
      return fail(`expected one of ${values.join(', ')}, got "${raw}"`);
    },
  };
}

export type IpFamily = 4 | 6;

/** `ipv4`, `ipv6`, `ipv4+ipv6` or `ipv6+ipv4` → the address families enabled, in preference order. */
export function ipFamilyOption(defaultValue: readonly IpFamily[]): OptionSpec<readonly IpFamily[]> {
  return {
    accepts: 'ipv4 | ipv6 | ipv4+ipv6 | ipv6+ipv4',
    default: defaultValue,
    parse(raw) {
      const parts = raw.toLowerCase().split('+');
      const families: IpFamily[] = [];
      for (const part of parts) {
        const family = part === 'ipv4' ? 4 : part === 'ipv6' ? 6 : null;
        if (family === null || families.includes(family)) {
          return fail(`expected ipv4, ipv6, ipv4+ipv6 or ipv6+ipv4, got "${raw}"`);
        }
        families.push(family);
      }
      return ok(families);
    },
  };
}

export type FabricTransport = 'tcp' | 'rdma' | 'fc';

/** A `+`-joined set of transports (`tcp+rdma`); order kept, duplicates and unknown items reported. */
export function transportSetOption(
  defaultValue: readonly FabricTransport[],
): OptionSpec<readonly FabricTransport[]> {
  const known: readonly FabricTransport[] = ['tcp', 'rdma', 'fc'];
  return {
    accepts: "'+'-joined subset of tcp, rdma, fc",
    default: defaultValue,
    parse(raw) {
      const picked: FabricTransport[] = [];
      const bad: string[] = [];
      for (const item of raw.split('+').map((s) => s.trim())) {
        const t = known.find((k) => k === item.toLowerCase());
        if (t === undefined) bad.push(item);
        else if (!picked.includes(t)) picked.push(t);
      }
      if (picked.length === 0) return fail(`expected tcp, rdma and/or fc joined by '+', got "${raw}"`);
      return bad.length > 0 ? ok(picked, `ignored unknown transport(s): ${bad.join(', ')}`) : ok(picked);
    },
  };
}

/**
 * A duration (`72h`, `1 day`, `1:30:00`, `-1`), in seconds. Negative means
 * "never"; it is returned as -1. Non-finite values (nan, inf) are rejected.
 */
export function durationOption(defaultSeconds: number): OptionSpec<number> {
  return {
    accepts: 'duration (e.g. 30s, 10m, 72h, 3 days, -1 for never)',
    default: defaultSeconds,
    parse(raw) {
      const seconds = parseTimeSpec(raw);
      if (seconds === null) return fail(`expected a duration such as 72h, 30 minutes or -1, got "${raw}"`);
      return ok(seconds < 0 ? -1 : seconds);
    },
  };
}

/** Free text (the typed layer above validates meaning); empty text is "not set". */
export function textOption(): OptionSpec<string | null> {
  return {
    accepts: 'text',
    default: null,
    parse(raw) {
      return ok(raw === '' ? null : raw);
    },
  };
}
