import { describe, expect, it } from 'vitest';
import { BusError } from './bus-error.js';
import { introspectedFromSpec, parseIntrospectionXml, withoutArgNames } from './introspection-xml.js';
import { STAC_INTERFACE } from './stac-api.js';

const SAMPLE = `<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
<!-- a comment with <tags> inside -->
<node name="/org/x">
  <interface name="org.x.I">
    <property name="tron" type="b" access="readwrite"/>
    <method name="m">
      <arg name="a" type="s" direction="in"/>
      <arg type="aa{ss}" direction="out"/>
      <annotation name="org.freedesktop.DBus.Deprecated" value="true"/>
    </method>
    <signal name="sig"><arg name="x" type="s"/><arg type="u" direction="out"/></signal>
  </interface>
  <node name="child"/>
</node>`;

describe('parseIntrospectionXml', () => {
  it('reads interfaces, members, argument names and child nodes', () => {
    expect(parseIntrospectionXml(SAMPLE)).toEqual({
      name: '/org/x',
      interfaces: [
        {
          name: 'org.x.I',
          methods: { m: { in: [{ name: 'a', type: 's' }], out: [{ name: undefined, type: 'aa{ss}' }] } },
          properties: { tron: { type: 'b', access: 'readwrite' } },
          signals: {
            sig: {
              args: [
                { name: 'x', type: 's' },
                { name: undefined, type: 'u' },
              ],
            },
          },
        },
      ],
      children: ['child'],
    });
  });

  it('unescapes attribute entities', () => {
    const node = parseIntrospectionXml('<node><interface name="a&amp;b"/></node>');
    expect(node.interfaces[0]?.name).toBe('a&b');
  });

  it.each([
    ['unbalanced tags', '<node><interface name="x"></node>'],
    ['text content', '<node>hello</node>'],
    ['two roots', '<node/><node/>'],
    ['a missing attribute', '<node><interface/></node>'],
    ['an unknown entity', '<node><interface name="&nbsp;"/></node>'],
  ])('rejects %s', (_what, xml) => {
    expect(() => parseIntrospectionXml(xml)).toThrow(BusError);
  });
});

describe('introspectedFromSpec', () => {
  it('gives what a spec should introspect as, with or without argument names', () => {
    const expected = introspectedFromSpec(STAC_INTERFACE);
    expect(expected).toEqual({
      name: 'org.nvmexpress.stac',
      methods: {
        list_controllers: {
          in: [{ name: 'detailed', type: 'b' }],
          out: [{ name: 'controller_list', type: 'aa{ss}' }],
        },
        explain: { in: [], out: [{ name: 'plan_json', type: 's' }] },
      },
      properties: {},
      signals: {},
    });
    expect(withoutArgNames(expected).methods.list_controllers).toEqual({
      in: [{ name: undefined, type: 'b' }],
      out: [{ name: undefined, type: 'aa{ss}' }],
    });
  });
});
