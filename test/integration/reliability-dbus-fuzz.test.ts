// Fuzzes every D-Bus method of the real stafd and stacd (in-process, one private dbus-daemon): right and
// wrong signatures, random and hostile strings, 1 MiB strings, Properties and Introspect, unknown
// members. Each call gets a D-Bus error or a reply of the declared signature, never a time-out; both
// names keep their owner and a normal call is answered within 100 ms afterwards. Fixed seeds.
// STAS_LONG=1 runs 20,000 calls per method instead of 1,000.
import { Variant } from '@particle/dbus-next';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusError } from '@stas/common/dbus/bus-error';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { STAC_BUS_NAME, STAC_OBJECT_PATH } from '@stas/common/dbus/stac-api';
import { STAF_BUS_NAME, STAF_OBJECT_PATH } from '@stas/common/dbus/staf-api';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { createStasStack, timedCall, type StasStack } from './fixtures/stas-stack.js';
import { recordTiming } from './fixtures/timings.js';
import { waitFor } from './fixtures/wait.js';

const LONG = process.env['STAS_LONG'] === '1';
const RUNS_PER_METHOD = LONG ? 20_000 : 1000;
const MIB = 1024 * 1024;

interface Target {
  readonly service: string;
  readonly path: string;
  readonly iface: string;
  readonly member: string;
  /** The declared in-signature ('' for none), undefined for members that do not exist. */
  readonly signature: string | undefined;
  readonly out: string | undefined;
}

const TID7 = 'sssssss';
function targets(service: string, path: string, base: string, own: [string, string, string][]): Target[] {
  const t = (iface: string, member: string, signature?: string, out?: string): Target => ({
    service,
    path,
    iface,
    member,
    signature,
    out,
  });
  return [
    ...own.map(([member, sig, out]) => t(base, member, sig, out)),
    t(`${base}.debug`, 'process_info', '', 's'),
    t(`${base}.debug`, 'controller_info', TID7, 's'),
    t('org.freedesktop.DBus.Properties', 'Get', 'ss', 'v'),
    t('org.freedesktop.DBus.Properties', 'GetAll', 's', 'a{sv}'),
    t('org.freedesktop.DBus.Properties', 'Set', 'ssv', ''),
    t('org.freedesktop.DBus.Introspectable', 'Introspect', '', 's'),
    t(base, 'no_such_method'),
  ];
}

const STAF_TARGETS = targets(STAF_BUS_NAME, STAF_OBJECT_PATH, 'org.nvmexpress.staf', [
  ['list_controllers', 'b', 'aa{ss}'],
  ['get_log_pages', TID7, 'aa{ss}'],
  ['get_all_log_pages', 'b', 's'],
]);
const STAC_TARGETS = targets(STAC_BUS_NAME, STAC_OBJECT_PATH, 'org.nvmexpress.stac', [
  ['list_controllers', 'b', 'aa{ss}'],
  ['explain', '', 's'],
]);

// Strings a hostile caller would try. Those with NUL are refused by our own client (the wire has no NUL
// in strings; dbus-daemon would drop the sender), and are counted as such.
const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    '',
    'tcp',
    'rdma',
    'fc',
    '127.0.0.1',
    '::1',
    '8009',
    'nqn.2014-08.org.nvmexpress.discovery',
    'tron',
    'log_level',
    'org.nvmexpress.staf.debug',
    'org.nvmexpress.stac.debug',
    'a,b=c\nnqn=evil',
    '\uD800\uDFFF\uDBFF',
    '%s%n%x',
    '${HOME}$(id)`id`',
    '\0',
    'x\0y',
    'é'.repeat(300),
  ),
);

type TypeCode =
  'b' | 's' | 'y' | 'n' | 'q' | 'i' | 'u' | 'x' | 't' | 'd' | 'o' | 'g' | 'as' | 'a{ss}' | 'v' | '(si)';
const TYPE_CODES: readonly TypeCode[] = [
  'b',
  's',
  'y',
  'n',
  'q',
  'i',
  'u',
  'x',
  't',
  'd',
  'o',
  'g',
  'as',
  'a{ss}',
  'v',
  '(si)',
];

function valueOf(code: TypeCode): fc.Arbitrary<unknown> {
  switch (code) {
    case 'b':
      return fc.boolean();
    case 's':
      return hostileString;
    case 'y':
      return fc.integer({ min: 0, max: 255 });
    case 'n':
      return fc.integer({ min: -32768, max: 32767 });
    case 'q':
      return fc.integer({ min: 0, max: 65535 });
    case 'i':
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case 'u':
      return fc.integer({ min: 0, max: 2 ** 32 - 1 });
    case 'x':
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    case 't':
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
    case 'd':
      return fc.double();
    case 'o':
      return fc.constantFrom('/', '/org/nvmexpress/staf', '/a/b_c/D1');
    case 'g':
      return fc.constantFrom('', 's', 'a{sv}', 'sssssss');
    case 'as':
      return fc.array(hostileString, { maxLength: 4 });
    case 'a{ss}':
      return fc.dictionary(fc.string({ maxLength: 8 }), hostileString, { maxKeys: 4 });
    case 'v':
      return fc.oneof(
        fc.boolean().map((b) => new Variant('b', b)),
        hostileString.map((s) => new Variant('s', s)),
        fc.integer({ min: 0, max: 255 }).map((n) => new Variant('y', n)),
      );
    case '(si)':
      return fc.tuple(hostileString, fc.integer({ min: -5, max: 5 }));
  }
}

function codesOf(signature: string): TypeCode[] {
  const codes: TypeCode[] = [];
  for (let i = 0; i < signature.length;) {
    const rest = signature.slice(i);
    const code = TYPE_CODES.find((c) => c.length > 1 && rest.startsWith(c)) ?? (rest[0] as TypeCode);
    codes.push(code);
    i += code.length;
  }
  return codes;
}

interface FuzzCall {
  readonly signature: string;
  readonly args: readonly unknown[];
  readonly declared: boolean;
}

function callArb(target: Target): fc.Arbitrary<FuzzCall> {
  const wrong = fc
    .array(fc.constantFrom(...TYPE_CODES), { maxLength: 8 })
    .chain((codes) =>
      fc.tuple(
        fc.constant(codes.join('')),
        codes.length === 0 ? fc.constant([]) : fc.tuple(...codes.map(valueOf)),
      ),
    )
    .map(([signature, args]) => ({ signature, args, declared: signature === target.signature }));
  if (target.signature === undefined) return wrong;
  const codes = codesOf(target.signature);
  const right = (codes.length === 0 ? fc.constant([] as unknown[]) : fc.tuple(...codes.map(valueOf))).map(
    (args) => ({ signature: target.signature ?? '', args, declared: true }),
  );
  return fc.oneof({ arbitrary: right, weight: 7 }, { arbitrary: wrong, weight: 3 });
}

interface Tally {
  calls: number;
  replies: number;
  errorReplies: number;
  refusedByClient: number;
  hugeCalls: number;
  failures: string[];
  errorNames: Map<string, number>;
  examples: Map<string, string>;
}

async function fire(client: SystemBus, target: Target, call: FuzzCall, tally: Tally): Promise<void> {
  tally.calls++;
  const replySignature = call.declared && target.out !== undefined ? target.out : undefined;
  try {
    await client.call(target.service, target.path, target.iface, target.member, call.signature, call.args, {
      timeoutMs: 5000,
      ...(replySignature === undefined ? {} : { replySignature }),
    });
    tally.replies++;
  } catch (err) {
    if (!(err instanceof BusError)) {
      tally.failures.push(`${target.member}(${call.signature}): non-bus error ${String(err)}`);
      return;
    }
    if (err.remoteName !== undefined) {
      tally.errorReplies++;
      tally.errorNames.set(err.remoteName, (tally.errorNames.get(err.remoteName) ?? 0) + 1);
      if (!tally.examples.has(err.remoteName))
        tally.examples.set(
          err.remoteName,
          `${target.iface}.${target.member}(${call.signature}) → ${err.remoteText ?? ''}`,
        );
    } else if (err.code === 'DBUS_INVALID_ARGS') {
      tally.refusedByClient++;
    } else {
      tally.failures.push(`${target.iface}.${target.member}(${call.signature}): ${err.code} ${err.message}`);
    }
  }
}

describe('D-Bus method fuzzing against stafd and stacd', () => {
  let bus: DbusDaemon;
  let client: SystemBus;
  let stack: StasStack;
  let dc: DcSimulator;
  const owners = new Map<string, string | null>();

  beforeAll(async () => {
    bus = await startDbusDaemon();
    client = await connectSystemBus({ address: bus.address, maxConcurrentCalls: 64 });
    dc = await DcSimulator.start({
      entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: 'nqn.2024-01.io.stas:fz' })],
    });
    stack = await createStasStack(bus.address);
    await stack.stafd.writeConf(
      `[Controllers]\ncontroller = transport=tcp;traddr=${dc.host};trsvcid=${dc.port}\n`,
    );
    await stack.stafd.start();
    await stack.startStacd();
    await waitFor(() => stack.fabrics.live.length === 1, {
      timeoutMs: 10_000,
      what: 'stacd connected the subsystem',
    });
    for (const name of [STAF_BUS_NAME, STAC_BUS_NAME]) owners.set(name, await client.getNameOwner(name));
  });

  afterAll(async () => {
    await stack.dispose();
    await client.close();
    await dc.close();
    await bus.close();
  });

  const all = [...STAF_TARGETS, ...STAC_TARGETS];
  it(
    `answers ${RUNS_PER_METHOD} random calls per member (${all.length} members) with a reply or a D-Bus error`,
    async () => {
      const tally: Tally = {
        calls: 0,
        replies: 0,
        errorReplies: 0,
        refusedByClient: 0,
        hugeCalls: 0,
        failures: [],
        errorNames: new Map(),
        examples: new Map(),
      };
      const t0 = performance.now();
      for (const [i, target] of all.entries()) {
        const calls = fc.sample(callArb(target), { seed: 4242 + i, numRuns: RUNS_PER_METHOD });
        for (let k = 0; k < calls.length; k += 64) {
          await Promise.all(calls.slice(k, k + 64).map((c) => fire(client, target, c, tally)));
        }
      }
      // 1 MiB strings into every string-taking method, both daemons.
      const huge = 'n'.repeat(MIB);
      for (const target of all.filter((t) => t.signature !== undefined && t.signature.includes('s'))) {
        const args = codesOf(target.signature ?? '').map((c) =>
          c === 's' ? huge : c === 'v' ? new Variant('s', huge) : false,
        );
        tally.hugeCalls++;
        await fire(client, target, { signature: target.signature ?? '', args, declared: true }, tally);
      }
      recordTiming('fuzz', `D-Bus fuzz: ${tally.calls} calls`, performance.now() - t0);

      expect(tally.failures).toEqual([]);
      expect(tally.calls).toBe(all.length * RUNS_PER_METHOD + tally.hugeCalls);
      expect(tally.replies + tally.errorReplies + tally.refusedByClient).toBe(tally.calls);
      expect(tally.replies).toBeGreaterThan(all.length * RUNS_PER_METHOD * 0.3);
      expect(tally.errorReplies).toBeGreaterThan(0);
      // Errors are the standard ones or the daemons' own, never a crash report.
      for (const name of tally.errorNames.keys())
        expect(name, tally.examples.get(name)).toMatch(
          /^org\.freedesktop\.DBus\.Error\.|^org\.nvmexpress\.sta[fc]\.Error\./,
        );
      recordTiming(
        'fuzz',
        `D-Bus fuzz tally: replies=${tally.replies} errors=${tally.errorReplies} refused-by-client=${tally.refusedByClient}`,
        0,
      );

      // Still the same owners (no restart, no crash), still answering at once.
      for (const [name, owner] of owners) expect(await client.getNameOwner(name)).toBe(owner);
      const staf = await timedCall(() =>
        client.call(STAF_BUS_NAME, STAF_OBJECT_PATH, 'org.nvmexpress.staf', 'list_controllers', 'b', [true]),
      );
      const stac = await timedCall(() =>
        client.call(STAC_BUS_NAME, STAC_OBJECT_PATH, 'org.nvmexpress.stac', 'list_controllers', 'b', [true]),
      );
      expect(staf.ok && stac.ok).toBe(true);
      expect(staf.ms).toBeLessThan(100);
      expect(stac.ms).toBeLessThan(100);
      // Nothing the fuzzer sent made a daemon disconnect a controller.
      expect(stack.fabrics.disconnects).toEqual([]);
      expect(stack.fabrics.live).toHaveLength(1);
    },
    LONG ? 900_000 : 30_000,
  );

  it('answers Properties.GetAll with a non-string argument with InvalidArgs, no stack trace', async () => {
    for (const service of [STAF_BUS_NAME, STAC_BUS_NAME]) {
      const path = service === STAF_BUS_NAME ? STAF_OBJECT_PATH : STAC_OBJECT_PATH;
      const reply = await timedCall(() =>
        client.call(service, path, 'org.freedesktop.DBus.Properties', 'GetAll', 'a{ss}', [{ a: 'b' }]),
      );
      expect(reply.ok).toBe(false);
      expect(reply.error).toBeInstanceOf(BusError);
      const err = reply.error as BusError;
      expect(err.remoteName).toBe('org.freedesktop.DBus.Error.InvalidArgs');
      expect(err.remoteText).not.toMatch(/ at |\.js:/);
    }
  });
});
