// stafd's real service seen by gdbus, a client that knows nothing of our code: every method and
// property answers what behaviour spec §2 describes, and `gdbus introspect --xml` of the running
// stafd matches dbus/org.nvmexpress.staf.xml (the API mirror's own export is checked by
// dbus-introspection.test.ts; this checks what stafd really exports).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIntrospectionXml } from '@stas/common/dbus/introspection-xml';
import { STAF_API } from '@stas/common/dbus/staf-api';
import { nvmeEntry } from '@stas/common/testing/dc-sim/dc-sim-entries';
import { DcSimulator } from '@stas/common/testing/dc-sim/dc-simulator';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';
import { HOST_NQN, createStafdHarness, type StafdHarness } from './fixtures/stafd-harness.js';
import { waitFor } from './fixtures/wait.js';

const execFileP = promisify(execFile);
const SUBSYS = 'nqn.2024-01.io.stas.test:gdbus';

async function hasGdbus(): Promise<boolean> {
  try {
    await execFileP('gdbus', ['help']);
    return true;
  } catch {
    return false;
  }
}

describe.runIf(await hasGdbus())('stafd through gdbus', () => {
  let bus: DbusDaemon;
  let h: StafdHarness;
  let dc: DcSimulator;

  const gdbus = async (...args: string[]): Promise<string> =>
    (
      await execFileP('gdbus', [
        args[0] ?? 'call',
        '--address',
        bus.address,
        '--dest',
        STAF_API.busName,
        '--object-path',
        STAF_API.objectPath,
        ...args.slice(1),
      ])
    ).stdout;
  const call = (method: string, ...args: string[]) => gdbus('call', '--method', method, ...args);
  const tid = (): string[] => [
    'tcp',
    '127.0.0.1',
    String(dc.port),
    'nqn.2014-08.org.nvmexpress.discovery',
    '',
    '',
    HOST_NQN,
  ];

  beforeAll(async () => {
    bus = await startDbusDaemon();
    dc = await DcSimulator.start({ entries: [nvmeEntry({ traddr: '127.0.0.1', subnqn: SUBSYS })] });
    h = await createStafdHarness(bus.address);
    await h.writeConf(`[Controllers]\ncontroller = transport=tcp;traddr=127.0.0.1;trsvcid=${dc.port}\n`);
    await h.start();
    await waitFor(
      async () => (await call('org.nvmexpress.staf.get_all_log_pages', 'false')).includes(SUBSYS),
      {
        timeoutMs: 10_000,
        what: 'the entry on D-Bus',
      },
    );
  });

  afterAll(async () => {
    await h.dispose();
    await dc.close();
    await bus.close();
  });

  it('list_controllers(false) returns the controller-ID dicts; (true) the details', async () => {
    const plain = await call('org.nvmexpress.staf.list_controllers', 'false');
    expect(plain).toContain(`'traddr': '127.0.0.1'`);
    expect(plain).toContain(`'trsvcid': '${dc.port}'`);
    expect(plain).toContain(`'host-nqn': '${HOST_NQN}'`);
    expect(plain).toContain(`'device': ''`);
    expect(plain).not.toContain('origin');
    const detailed = await call('org.nvmexpress.staf.list_controllers', 'true');
    expect(detailed).toContain(`'origin': 'configured'`);
    expect(detailed).toContain(`'connected': 'True'`);
    expect(detailed).toContain(`'log-pages-state': 'fresh'`);
  });

  it('get_log_pages(7×s) returns the entries of that DC, [] for an unknown one', async () => {
    const found = await call('org.nvmexpress.staf.get_log_pages', ...tid());
    expect(found).toContain(`'subnqn': '${SUBSYS}'`);
    expect(found).toContain(`'subtype': 'nvme'`);
    const other = tid();
    other[1] = '127.0.0.2';
    expect((await call('org.nvmexpress.staf.get_log_pages', ...other)).trim()).toBe('(@aa{ss} [],)');
  });

  it('get_all_log_pages(b) returns real JSON', async () => {
    const out = await call('org.nvmexpress.staf.get_all_log_pages', 'true');
    const text = /^\('(.*)',\)$/s.exec(out.trim())?.[1];
    expect(text).toBeDefined();
    // GVariant text escapes backslashes and quotes inside the string.
    const json = JSON.parse((text ?? '').replace(/\\([\\'"])/g, '$1')) as {
      'discovery-controller': Record<string, string>;
      'log-pages': Record<string, string>[];
    }[];
    expect(json[0]?.['discovery-controller']['origin']).toBe('configured');
    expect(json[0]?.['log-pages'][0]?.['subnqn']).toBe(SUBSYS);
  });

  it('debug: process_info and controller_info return JSON; tron and log_level read and write', async () => {
    const info = await call('org.nvmexpress.staf.debug.process_info');
    expect(info).toContain('"hostnqn"');
    expect(info).not.toContain('hostkey');
    expect(await call('org.nvmexpress.staf.debug.controller_info', ...tid())).toContain('"origin"');
    const other = tid();
    other[6] = '';
    expect((await call('org.nvmexpress.staf.debug.controller_info', ...other)).trim()).toBe("('{}',)");

    const get = (name: string) =>
      call('org.freedesktop.DBus.Properties.Get', 'org.nvmexpress.staf.debug', name).then((s) => s.trim());
    expect(await get('tron')).toBe('(<false>,)');
    expect(await get('log_level')).toBe("(<'INFO'>,)");
    await call('org.freedesktop.DBus.Properties.Set', 'org.nvmexpress.staf.debug', 'tron', '<true>');
    expect(await get('tron')).toBe('(<true>,)');
    expect(await get('log_level')).toBe("(<'DEBUG'>,)");
    await expect(
      call('org.freedesktop.DBus.Properties.Set', 'org.nvmexpress.staf.debug', 'log_level', "<'INFO'>"),
    ).rejects.toThrow(/PropertyReadOnly|read-only/);
    await call('org.freedesktop.DBus.Properties.Set', 'org.nvmexpress.staf.debug', 'tron', '<false>');
  });

  it('introspects exactly as dbus/org.nvmexpress.staf.xml', async () => {
    const file = await readFile(new URL('../../dbus/org.nvmexpress.staf.xml', import.meta.url), 'utf8');
    const names = new Set<string>(STAF_API.interfaces.map((i) => i.name));
    const ours = (xml: string) =>
      Object.fromEntries(
        parseIntrospectionXml(xml)
          .interfaces.filter((i) => names.has(i.name))
          .map((i) => [i.name, i]),
      );
    const actual = ours(await gdbus('introspect', '--xml'));
    expect(actual).toEqual(ours(file));
  });
});
