// The services built from staf-api.ts / stac-api.ts, exported on a private bus, introspect exactly as
// dbus/org.nvmexpress.{staf,stac}.xml say: same interfaces, members, signatures, directions, property
// access and argument names. (@particle/dbus-next leaves argument names out of introspection;
// service-export.ts adds them from the spec, so names are compared too.) Checked through our own
// Introspect call and through gdbus, a client that knows nothing of our code.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBUG_MEMBERS } from '@stas/common/dbus/api-shared';
import { connectSystemBus, type SystemBus } from '@stas/common/dbus/bus';
import type { InterfaceSpec, ServiceApi } from '@stas/common/dbus/interface-spec';
import { parseIntrospectionXml, type IntrospectedInterface } from '@stas/common/dbus/introspection-xml';
import type { InterfaceImpl } from '@stas/common/dbus/service-export';
import { STAC_API, STAC_DEBUG_INTERFACE, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import { STAF_API, STAF_DEBUG_INTERFACE, STAF_INTERFACE } from '@stas/common/dbus/staf-api';
import { startDbusDaemon, type DbusDaemon } from './fixtures/dbus-daemon.js';

const run = promisify(execFile);
const repoFile = (name: string): URL => new URL(`../../dbus/${name}`, import.meta.url);

function debugImpl(): InterfaceImpl<typeof DEBUG_MEMBERS & { name: string }> {
  let tron = false;
  return {
    methods: { process_info: () => '{}', controller_info: () => '{}' },
    properties: {
      tron: {
        get: () => tron,
        set: (value) => {
          tron = value;
        },
      },
      log_level: { get: () => (tron ? 'DEBUG' : 'INFO') },
    },
  };
}

const stafImpl: InterfaceImpl<typeof STAF_INTERFACE> = {
  methods: { list_controllers: () => [], get_log_pages: () => [], get_all_log_pages: () => '[]' },
  properties: {},
};
const stacImpl: InterfaceImpl<typeof STAC_INTERFACE> = {
  methods: { list_controllers: () => [], explain: () => '{}' },
  properties: {},
};

/** Our interfaces of an introspected node, keyed by name, in a canonical form. */
function ours(xml: string, api: ServiceApi): Record<string, IntrospectedInterface> {
  const names = new Set(api.interfaces.map((i: InterfaceSpec) => i.name));
  const node = parseIntrospectionXml(xml);
  return Object.fromEntries(node.interfaces.filter((i) => names.has(i.name)).map((i) => [i.name, i]));
}

async function hasGdbus(): Promise<boolean> {
  try {
    await run('gdbus', ['help']);
    return true;
  } catch {
    return false;
  }
}

const gdbusAvailable = await hasGdbus();

describe('introspection of the exported services matches dbus/*.xml', () => {
  let daemon: DbusDaemon;
  let staf: SystemBus;
  let stac: SystemBus;
  let client: SystemBus;

  beforeAll(async () => {
    daemon = await startDbusDaemon();
    staf = await connectSystemBus({ address: daemon.address });
    stac = await connectSystemBus({ address: daemon.address });
    client = await connectSystemBus({ address: daemon.address });
    staf.exportInterface(STAF_API.objectPath, STAF_INTERFACE, stafImpl, STAF_API);
    staf.exportInterface(STAF_API.objectPath, STAF_DEBUG_INTERFACE, debugImpl(), STAF_API);
    await staf.requestName(STAF_API.busName);
    stac.exportInterface(STAC_API.objectPath, STAC_INTERFACE, stacImpl, STAC_API);
    stac.exportInterface(STAC_API.objectPath, STAC_DEBUG_INTERFACE, debugImpl(), STAC_API);
    await stac.requestName(STAC_API.busName);
  });

  afterAll(async () => {
    await client.close();
    await stac.close();
    await staf.close();
    await daemon.close();
  });

  for (const [label, api, file] of [
    ['stafd', STAF_API, 'org.nvmexpress.staf.xml'],
    ['stac', STAC_API, 'org.nvmexpress.stac.xml'],
  ] as const) {
    it(`${label}: Introspect returns the members, signatures and argument names of ${file}`, async () => {
      const expected = ours(await readFile(repoFile(file), 'utf8'), api);
      const [xml] = await client.call(
        api.busName,
        api.objectPath,
        'org.freedesktop.DBus.Introspectable',
        'Introspect',
        '',
        [],
        { replySignature: 's' },
      );
      const actual = ours(xml as string, api);
      expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
      for (const name of Object.keys(expected)) expect(actual[name], name).toEqual(expected[name]);
    });

    it.runIf(gdbusAvailable)(`${label}: gdbus introspect sees the same interfaces as ${file}`, async () => {
      const expected = ours(await readFile(repoFile(file), 'utf8'), api);
      const { stdout } = await run('gdbus', [
        'introspect',
        '--address',
        daemon.address,
        '--dest',
        api.busName,
        '--object-path',
        api.objectPath,
        '--xml',
      ]);
      const actual = ours(stdout, api);
      for (const name of Object.keys(expected)) expect(actual[name], name).toEqual(expected[name]);
      expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
    });
  }
});
