// The bus policy files dbus/org.nvmexpress.{staf,stac}.conf on a private dbus-daemon with the system
// bus's default policy: only root owns the names and may Set properties; any user may introspect, read
// properties and call the listed read-only methods; members not listed are root-only.
// Non-root clients run as `nobody` (setpriv): gdbus for calls, a tiny node script for RequestName.
// Needs root (to switch users), setpriv and gdbus (Debian: util-linux, libglib2.0-bin).
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import { BusError } from '@stas/common/dbus/bus-error';
import type { InterfaceImpl } from '@stas/common/dbus/service-export';
import { STAC_API, STAC_DEBUG_INTERFACE, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { STAF_API, STAF_DEBUG_INTERFACE, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runAs(user: 'nobody' | 'root', command: string, args: readonly string[]): Promise<RunResult> {
  const [file, argv] =
    user === 'root'
      ? [command, args]
      : ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', command, ...args]];
  return new Promise((resolve) => {
    execFile(
      file,
      argv,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function available(command: string): Promise<boolean> {
  return (await runAs('root', 'sh', ['-c', `command -v ${command}`])).code === 0;
}

const canSwitchUser = process.getuid?.() === 0 && (await available('setpriv')) && (await available('gdbus'));

const NEVER_DEBUG = { tron: false };
function debugImpl(state: { tron: boolean }) {
  return {
    methods: { process_info: () => '{"tron": false}', controller_info: () => '{}' },
    properties: {
      tron: {
        get: () => state.tron,
        set: (value: boolean) => {
          state.tron = value;
        },
      },
      log_level: { get: () => (state.tron ? 'DEBUG' : 'INFO') },
    },
  } satisfies InterfaceImpl<typeof STAF_DEBUG_INTERFACE>;
}
const stafImpl: InterfaceImpl<typeof STAF_INTERFACE> = {
  methods: {
    list_controllers: () => [{ traddr: '10.0.0.1', device: 'nvme?' }],
    get_log_pages: () => [],
    get_all_log_pages: () => '[]',
  },
  properties: {},
};
const stacImpl: InterfaceImpl<typeof STAC_INTERFACE> = {
  methods: { list_controllers: () => [], explain: () => '{}' },
  properties: {},
};

const policyFile = (name: string): string => fileURLToPath(new URL(`../../dbus/${name}`, import.meta.url));
const dbusNext = createRequire(import.meta.url).resolve('@particle/dbus-next');
const TID = ["'tcp'", "'10.0.0.1'", "'8009'", "'nqn.2014-08.org.nvmexpress.discovery'", "''", "''", "''"];

describe.runIf(canSwitchUser)('bus policy (dbus/org.nvmexpress.{staf,stac}.conf)', () => {
  let daemon: DbusDaemon;
  let staf: SystemBus;
  let stac: SystemBus;
  let root: SystemBus;
  const stafState = { ...NEVER_DEBUG };
  const stacState = { ...NEVER_DEBUG };

  const gdbus = (user: 'nobody' | 'root', dest: string, path: string, method: string, ...args: string[]) =>
    runAs(user, 'gdbus', [
      'call',
      '--address',
      daemon.address,
      '--dest',
      dest,
      '--object-path',
      path,
      '--method',
      method,
      ...args,
    ]);

  /** RequestName as `user` with the bare library; prints the reply code or the error name. */
  const requestNameAs = (user: 'nobody' | 'root', name: string) =>
    runAs(user, process.execPath, [
      '-e',
      `const d = require(process.argv[1]);
       const b = d.sessionBus({ busAddress: process.argv[2], authMethods: ['EXTERNAL'] });
       b.on('error', (e) => { console.log('error ' + e.message); process.exit(2); });
       b.requestName(process.argv[3], 4).then(
         (r) => { console.log('reply ' + r); process.exit(0); },
         (e) => { console.log('denied ' + (e.type || e.message)); process.exit(0); });`,
      dbusNext,
      `unix:path=${daemon.socketPath}`,
      name,
    ]);

  beforeAll(async () => {
    daemon = await startDbusDaemon({
      policy: 'system',
      include: [policyFile('org.nvmexpress.staf.conf'), policyFile('org.nvmexpress.stac.conf')],
    });
    staf = await connectSystemBus({ address: daemon.address });
    stac = await connectSystemBus({ address: daemon.address });
    root = await connectSystemBus({ address: daemon.address });
    staf.exportInterface(STAF_API.objectPath, STAF_INTERFACE, stafImpl, STAF_API);
    staf.exportInterface(STAF_API.objectPath, STAF_DEBUG_INTERFACE, debugImpl(stafState), STAF_API);
    await staf.requestName(STAF_API.busName);
    stac.exportInterface(STAC_API.objectPath, STAC_INTERFACE, stacImpl, STAC_API);
    stac.exportInterface(STAC_API.objectPath, STAC_DEBUG_INTERFACE, debugImpl(stacState), STAC_API);
    await stac.requestName(STAC_API.busName);
  });

  afterAll(async () => {
    await root.close();
    await stac.close();
    await staf.close();
    await daemon.close();
  });

  it('lets root own org.nvmexpress.staf and org.nvmexpress.stac', async () => {
    expect(await root.getNameOwner(STAF_API.busName)).toBe(staf.uniqueName);
    expect(await root.getNameOwner(STAC_API.busName)).toBe(stac.uniqueName);
  });

  it('denies root any other name, even one under the same prefix (DBUS_NAME_DENIED)', async () => {
    for (const name of ['org.nvmexpress.staf.extra', 'org.example.Other']) {
      const err = await root.requestName(name).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(BusError);
      expect((err as BusError).code).toBe('DBUS_NAME_DENIED');
    }
  });

  it('denies a non-root user the names', async () => {
    for (const name of [STAF_API.busName, STAC_API.busName]) {
      const { stdout } = await requestNameAs('nobody', name);
      expect(stdout.trim(), name).toBe('denied org.freedesktop.DBus.Error.AccessDenied');
    }
  });

  it('lets a non-root user call the read-only methods, read properties, introspect and ping', async () => {
    const S = [STAF_API.busName, STAF_API.objectPath] as const;
    const calls: [string, string, string, ...string[]][] = [
      [...S, `${STAF_INTERFACE.name}.list_controllers`, 'true'],
      [...S, `${STAF_INTERFACE.name}.get_log_pages`, ...TID],
      [...S, `${STAF_INTERFACE.name}.get_all_log_pages`, 'false'],
      [...S, `${STAF_DEBUG_INTERFACE.name}.process_info`],
      [...S, `${STAF_DEBUG_INTERFACE.name}.controller_info`, ...TID],
      [...S, 'org.freedesktop.DBus.Properties.Get', STAF_DEBUG_INTERFACE.name, 'tron'],
      [...S, 'org.freedesktop.DBus.Properties.GetAll', STAF_DEBUG_INTERFACE.name],
      [...S, 'org.freedesktop.DBus.Introspectable.Introspect'],
      [...S, 'org.freedesktop.DBus.Peer.Ping'],
      [STAC_API.busName, STAC_API.objectPath, `${STAC_INTERFACE.name}.list_controllers`, 'false'],
      [STAC_API.busName, STAC_API.objectPath, `${STAC_DEBUG_INTERFACE.name}.process_info`],
      [
        STAC_API.busName,
        STAC_API.objectPath,
        'org.freedesktop.DBus.Properties.Get',
        STAC_DEBUG_INTERFACE.name,
        'log_level',
      ],
    ];
    for (const [dest, path, method, ...args] of calls) {
      const result = await gdbus('nobody', dest, path, method, ...args);
      expect({ method, code: result.code, stderr: result.stderr }).toEqual({ method, code: 0, stderr: '' });
    }
    const list = await gdbus('nobody', ...S, `${STAF_INTERFACE.name}.list_controllers`, 'true');
    expect(list.stdout).toContain("'traddr': '10.0.0.1'");
  });

  it('denies a non-root user Set(tron) on both daemons, and allows it to root', async () => {
    for (const [api, iface, state] of [
      [STAF_API, STAF_DEBUG_INTERFACE, stafState],
      [STAC_API, STAC_DEBUG_INTERFACE, stacState],
    ] as const) {
      const denied = await gdbus(
        'nobody',
        api.busName,
        api.objectPath,
        'org.freedesktop.DBus.Properties.Set',
        iface.name,
        'tron',
        '<true>',
      );
      expect(denied.code, api.busName).not.toBe(0);
      expect(denied.stderr).toContain('org.freedesktop.DBus.Error.AccessDenied');
      expect(state.tron).toBe(false);

      await root.setProperty(api, iface, 'tron', true);
      expect(await root.getProperty(api, iface, 'tron')).toBe(true);
      expect(state.tron).toBe(true);
      await root.setProperty(api, iface, 'tron', false);
    }
  });

  it('denies a non-root user members the policy does not list (allow-list), which root reaches', async () => {
    const nobody = await gdbus(
      'nobody',
      STAF_API.busName,
      STAF_API.objectPath,
      `${STAF_INTERFACE.name}.reset`,
    );
    expect(nobody.stderr).toContain('org.freedesktop.DBus.Error.AccessDenied');
    const asRoot = await gdbus('root', STAF_API.busName, STAF_API.objectPath, `${STAF_INTERFACE.name}.reset`);
    expect(asRoot.stderr).toContain('org.freedesktop.DBus.Error.UnknownMethod');
  });
});
