// The API mirrors (staf-api.ts, stac-api.ts) against their source of truth, dbus/*.xml, and the bus
// policy files dbus/*.conf against the mirrors.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { introspectedFromSpec, parseIntrospectionXml } from './introspection-xml.js';
import type { ServiceApi } from './interface-spec.js';
import { STAC_API } from './stac-api.js';
import { STAF_API } from './staf-api.js';

const repoFile = (name: string): string =>
  readFileSync(new URL(`../../../../dbus/${name}`, import.meta.url), 'utf8');

describe.each([
  ['staf', STAF_API],
  ['stac', STAC_API],
] as const)('org.nvmexpress.%s', (short, api: ServiceApi) => {
  it(`names the bus, object path and error prefix as the spec does`, () => {
    expect(api.busName).toBe(`org.nvmexpress.${short}`);
    expect(api.objectPath).toBe(`/org/nvmexpress/${short}`);
    expect(api.errorPrefix).toBe(`org.nvmexpress.${short}.Error`);
    expect(api.interfaces.map((i) => i.name).sort()).toEqual([
      `org.nvmexpress.${short}`,
      `org.nvmexpress.${short}.debug`,
    ]);
  });

  it(`mirrors dbus/org.nvmexpress.${short}.xml member by member, argument names included`, () => {
    const node = parseIntrospectionXml(repoFile(`org.nvmexpress.${short}.xml`));
    expect(node.name).toBe(api.objectPath);
    const fromXml = Object.fromEntries(node.interfaces.map((i) => [i.name, i]));
    const fromTs = Object.fromEntries(api.interfaces.map((i) => [i.name, introspectedFromSpec(i)]));
    expect(Object.keys(fromXml).sort()).toEqual(Object.keys(fromTs).sort());
    for (const name of Object.keys(fromTs)) expect(fromXml[name], name).toEqual(fromTs[name]);
  });

  it(`has a policy file that lets only root (and stafd's service user) own the name and lists every method for other users`, () => {
    const conf = repoFile(`org.nvmexpress.${short}.conf`).replace(/<!--[\s\S]*?-->/g, '');
    const owners = [
      ...conf.matchAll(/<policy (user|context)="([^"]+)">((?:(?!<\/policy>)[\s\S])*)<\/policy>/g),
    ]
      .filter((m) => /<allow own/.test(m[3] ?? ''))
      .map((m) => `${m[1]}=${m[2]}`);
    expect(owners).toEqual(short === 'staf' ? ['user=root', 'user=stafd'] : ['user=root']);
    expect(new Set([...conf.matchAll(/<allow own(?:_prefix)?="([^"]+)"/g)].map((m) => m[1]))).toEqual(
      new Set([api.busName]),
    );
    expect(conf).not.toMatch(/own_prefix/);
    const listed = [...conf.matchAll(/send_interface="(org\.nvmexpress\.[^"]+)" send_member="([^"]+)"/g)]
      .map((m) => `${m[1]}.${m[2]}`)
      .sort();
    // Every method of the API is read-only today; a state-changing one must stay out of this list.
    const methods = api.interfaces.flatMap((i) => Object.keys(i.methods).map((m) => `${i.name}.${m}`)).sort();
    expect(listed).toEqual(methods);
    expect(conf).not.toMatch(/send_member="Set"/);
  });
});
