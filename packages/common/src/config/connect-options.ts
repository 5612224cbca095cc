/**
 * Connection options: the `[Global]` keys that end up in a connect string
 * (kato, digests, queues, timeouts), which `controller=` lines may override
 * one by one.
 *
 * Pure. stafd and stacd share the specs but not all the keys or defaults
 * (stafd: kato 30 and no I/O queue counts; stacd: kernel default kato).
 * Unlike nvme-stas, `queue-size` is a real option (it reaches the kernel) and
 * an invalid per-controller override never survives as a raw string: it is
 * reported and the `[Global]` value applies.
 *
 * Tests: connect-options.test.ts
 */
import type { OptionSpec } from './option-types.js';
import { boolOption, intOption } from './option-types.js';

export interface ConnectOptions {
  readonly 'hdr-digest': boolean;
  readonly 'data-digest': boolean;
  /** Keep-alive timeout in seconds; null = let the kernel choose. */
  readonly kato: number | null;
  readonly 'queue-size': number | null;
  readonly 'reconnect-delay': number | null;
  /** Seconds before the kernel gives up a lost connection; -1 = never. */
  readonly 'ctrl-loss-tmo': number | null;
  readonly 'disable-sqflow': boolean;
  readonly 'nr-io-queues': number | null;
  readonly 'nr-write-queues': number | null;
  readonly 'nr-poll-queues': number | null;
}

export type ConnectOptionName = keyof ConnectOptions;

type ConnectOptionSpecs = { readonly [K in ConnectOptionName]: OptionSpec<ConnectOptions[K]> };

const U16 = 65_535;

/** The option specs for one daemon; `katoDefault` is the only default that differs. */
export function connectOptionSpecs(katoDefault: number | null): ConnectOptionSpecs {
  return {
    'hdr-digest': boolOption(false),
    'data-digest': boolOption(false),
    kato: intOption(katoDefault, { min: 0, max: U16 }),
    'queue-size': intOption(null, { min: 16, max: 1024 }),
    'reconnect-delay': intOption(null, { min: 1, max: U16 }),
    'ctrl-loss-tmo': intOption(null, { min: -1, max: 1_000_000 }),
    'disable-sqflow': boolOption(false),
    'nr-io-queues': intOption(null, { min: 1, max: 1024 }),
    'nr-write-queues': intOption(null, { min: 1, max: 1024 }),
    'nr-poll-queues': intOption(null, { min: 1, max: 1024 }),
  };
}

/** Keys a discovery controller connection uses (no I/O queues). */
export const DISCOVERY_CONNECT_OPTIONS = [
  'hdr-digest',
  'data-digest',
  'kato',
  'queue-size',
  'reconnect-delay',
  'ctrl-loss-tmo',
  'disable-sqflow',
] as const satisfies readonly ConnectOptionName[];

/** Keys an I/O controller connection uses. */
export const IO_CONNECT_OPTIONS = [
  ...DISCOVERY_CONNECT_OPTIONS,
  'nr-io-queues',
  'nr-write-queues',
  'nr-poll-queues',
] as const satisfies readonly ConnectOptionName[];

export function isConnectOptionName(key: string): key is ConnectOptionName {
  return (IO_CONNECT_OPTIONS as readonly string[]).includes(key);
}

/** The subset of `specs` named by `keys`, keeping each spec's type. */
export function pickSpecs<S extends object, K extends keyof S>(specs: S, keys: readonly K[]): Pick<S, K> {
  const picked = {} as Pick<S, K>;
  for (const key of keys) picked[key] = specs[key];
  return picked;
}
