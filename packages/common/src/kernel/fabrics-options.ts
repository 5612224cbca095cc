/**
 * Which connect options the running kernel understands (wire digest §9.1,
 * behaviour spec §5.7).
 *
 * Kernels ≥ 5.17 answer a read of a freshly opened /dev/nvme-fabrics with
 * `instance=-1,cntlid=-1,transport=%s,traddr=%s,…,discovery,…`: the option
 * names are the parts before `=` (`instance` and `cntlid` are not options).
 * Older kernels fail that read with EINVAL; then the "classic" set applies:
 * the options every kernel since 4.20 has (transport, traddr, trsvcid, nqn,
 * queue_size, nr_io_queues, reconnect_delay, ctrl_loss_tmo, keep_alive_tmo,
 * hostnqn, host_traddr, hostid, duplicate_connect, disable_sqflow,
 * hdr_digest, data_digest, nr_write_queues, nr_poll_queues, tos), plus those
 * the release proves: fast_io_fail_tmo ≥ 5.10, host_iface ≥ 5.14,
 * discovery ≥ 5.16. dhchap_* (6.0) and tls (6.7) postdate the list read, so
 * they are never assumed. An unparsable release gives the bare classic set.
 *
 * Pure: `parseFabricsOptions`, `classicFabricsOptions`, `fabricsOptionsFromRead`.
 * The read itself is FabricsDevice.probeOptions (fabrics-device.ts).
 * Tests: fabrics-options.test.ts
 */

const CLASSIC = [
  'transport',
  'traddr',
  'trsvcid',
  'nqn',
  'queue_size',
  'nr_io_queues',
  'reconnect_delay',
  'ctrl_loss_tmo',
  'keep_alive_tmo',
  'hostnqn',
  'host_traddr',
  'hostid',
  'duplicate_connect',
  'disable_sqflow',
  'hdr_digest',
  'data_digest',
  'nr_write_queues',
  'nr_poll_queues',
  'tos',
] as const;

/** Options that arrived after 4.20 but before the list read (5.17), with the release that added them. */
const BY_RELEASE: readonly (readonly [string, readonly [number, number]])[] = [
  ['fast_io_fail_tmo', [5, 10]],
  ['host_iface', [5, 14]],
  ['discovery', [5, 16]],
];

/** Fields of the list read that are not options. */
const NOT_OPTIONS = new Set(['instance', 'cntlid']);

/** Option names from the text of an option-list read (only its first line counts). */
export function parseFabricsOptions(text: string): Set<string> {
  const firstLine = text.split('\n', 1)[0] ?? '';
  const names = new Set<string>();
  for (const item of firstLine.split(',')) {
    const eq = item.indexOf('=');
    const name = (eq === -1 ? item : item.slice(0, eq)).trim();
    if (name !== '' && !NOT_OPTIONS.has(name)) names.add(name);
  }
  return names;
}

/** `[major, minor]` of a kernel release such as `5.15.0-91-generic`, or null. */
export function kernelVersion(release: string): readonly [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (m?.[1] === undefined || m[2] === undefined) return null;
  return [Number(m[1]), Number(m[2])];
}

function atLeast(version: readonly [number, number], wanted: readonly [number, number]): boolean {
  return version[0] > wanted[0] || (version[0] === wanted[0] && version[1] >= wanted[1]);
}

/** The options assumed when the kernel cannot list them (see the module header). */
export function classicFabricsOptions(release: string): Set<string> {
  const names = new Set<string>(CLASSIC);
  const version = kernelVersion(release);
  if (version === null) return names;
  for (const [name, since] of BY_RELEASE) {
    if (atLeast(version, since)) names.add(name);
  }
  return names;
}

/** What an option-list read produced: its text, or the errno name it failed with. */
export type OptionListRead =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly errno: string };

export interface FabricsOptionSet {
  readonly options: ReadonlySet<string>;
  /** `kernel`: listed by the kernel; `classic`: assumed after EINVAL (an older kernel). */
  readonly source: 'kernel' | 'classic';
}

/**
 * The option set for a read result: parsed text, or the classic set after
 * EINVAL. Any other failure (ENOENT: nvme-fabrics not loaded; EACCES) gives
 * null: nothing can be connected, and the caller reports why.
 */
export function fabricsOptionsFromRead(read: OptionListRead, release: string): FabricsOptionSet | null {
  if (read.ok) return { options: parseFabricsOptions(read.text), source: 'kernel' };
  if (read.errno === 'EINVAL') return { options: classicFabricsOptions(release), source: 'classic' };
  return null;
}
