/**
 * Reads D-Bus introspection XML (the format of org.freedesktop.DBus.Introspectable.Introspect and of
 * dbus/*.xml) into plain data that can be compared with an InterfaceSpec: interfaces with their methods
 * (in/out arguments), properties and signals, argument names where present. Only this XML dialect is
 * handled: elements, attributes, comments, a DOCTYPE and an XML declaration; no text content, CDATA or
 * entities beyond the five predefined ones.
 *
 * Pure. Throws BusError DBUS_BAD_REPLY on XML it cannot read. Tests: introspection-xml.test.ts
 */
import { BusError } from './bus-error.js';
import type { ArgSpec, InterfaceSpec } from './interface-spec.js';

export interface IntrospectedArg {
  /** Absent when the producer leaves argument names out. */
  readonly name: string | undefined;
  readonly type: string;
}

export interface IntrospectedInterface {
  readonly name: string;
  readonly methods: Readonly<
    Record<string, { readonly in: IntrospectedArg[]; readonly out: IntrospectedArg[] }>
  >;
  readonly properties: Readonly<Record<string, { readonly type: string; readonly access: string }>>;
  readonly signals: Readonly<Record<string, { readonly args: IntrospectedArg[] }>>;
}

export interface IntrospectedNode {
  readonly name: string | undefined;
  readonly interfaces: IntrospectedInterface[];
  /** Names of child nodes. */
  readonly children: string[];
}

interface Element {
  readonly tag: string;
  readonly attrs: ReadonlyMap<string, string>;
  readonly children: Element[];
}

const TAG_RE = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
const ATTR_RE = /([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function fail(why: string): never {
  throw new BusError('DBUS_BAD_REPLY', `introspection XML: ${why}`);
}

function unescapeXml(text: string): string {
  return text.replace(/&(\w+);/g, (whole, name: string) => ENTITIES[name] ?? fail(`unknown entity ${whole}`));
}

function parseElements(xml: string): Element {
  const stripped = xml
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<\?[\s\S]*?\?>/g, '')
    .replace(/<!DOCTYPE[^>]*>/g, '');
  const root: Element = { tag: '#root', attrs: new Map(), children: [] };
  const stack: Element[] = [root];
  let last = 0;
  for (const m of stripped.matchAll(TAG_RE)) {
    const between = stripped.slice(last, m.index);
    if (between.trim() !== '') fail(`unexpected text '${between.trim().slice(0, 40)}'`);
    last = m.index + m[0].length;
    const [, closing, tag = '', rawAttrs = '', selfClosing] = m;
    if (closing === '/') {
      const open = stack.pop();
      if (open === undefined || open.tag !== tag) fail(`unbalanced </${tag}>`);
      continue;
    }
    const attrs = new Map<string, string>();
    for (const a of rawAttrs.matchAll(ATTR_RE)) {
      attrs.set(a[1] ?? '', unescapeXml(a[2] ?? a[3] ?? ''));
    }
    const element: Element = { tag, attrs, children: [] };
    const parent = stack[stack.length - 1];
    if (parent === undefined) fail(`element <${tag}> outside the document`);
    parent.children.push(element);
    if (selfClosing !== '/') stack.push(element);
  }
  if (stripped.slice(last).trim() !== '') fail('trailing text');
  if (stack.length !== 1) fail(`unclosed <${stack[stack.length - 1]?.tag ?? '?'}>`);
  return root;
}

function attr(element: Element, name: string): string {
  const value = element.attrs.get(name);
  if (value === undefined) fail(`<${element.tag}> without ${name}=`);
  return value;
}

function readArgs(element: Element): { in: IntrospectedArg[]; out: IntrospectedArg[] } {
  const result: { in: IntrospectedArg[]; out: IntrospectedArg[] } = { in: [], out: [] };
  for (const child of element.children) {
    if (child.tag !== 'arg') continue;
    const arg = { name: child.attrs.get('name'), type: attr(child, 'type') };
    if (child.attrs.get('direction') === 'out') result.out.push(arg);
    else result.in.push(arg);
  }
  return result;
}

function readInterface(element: Element): IntrospectedInterface {
  const methods: Record<string, { in: IntrospectedArg[]; out: IntrospectedArg[] }> = {};
  const properties: Record<string, { type: string; access: string }> = {};
  const signals: Record<string, { args: IntrospectedArg[] }> = {};
  for (const child of element.children) {
    if (child.tag === 'method') {
      methods[attr(child, 'name')] = readArgs(child);
    } else if (child.tag === 'property') {
      properties[attr(child, 'name')] = { type: attr(child, 'type'), access: attr(child, 'access') };
    } else if (child.tag === 'signal') {
      // Signal arguments have no direction (or "out"); all of them are the payload.
      const args = readArgs(child);
      signals[attr(child, 'name')] = { args: [...args.in, ...args.out] };
    }
  }
  return { name: attr(element, 'name'), methods, properties, signals };
}

/** Parse introspection XML with one top-level <node>. */
export function parseIntrospectionXml(xml: string): IntrospectedNode {
  const root = parseElements(xml);
  const node = root.children[0];
  if (root.children.length !== 1 || node?.tag !== 'node') fail('expected exactly one top-level <node>');
  return {
    name: node.attrs.get('name'),
    interfaces: node.children.filter((c) => c.tag === 'interface').map(readInterface),
    children: node.children.filter((c) => c.tag === 'node').map((c) => attr(c, 'name')),
  };
}

function toArgs(args: readonly ArgSpec[]): IntrospectedArg[] {
  return args.map((a) => ({ name: a.name, type: a.type }));
}

/** The introspection data an InterfaceSpec should produce (for comparisons). */
export function introspectedFromSpec(spec: InterfaceSpec): IntrospectedInterface {
  return {
    name: spec.name,
    methods: Object.fromEntries(
      Object.entries(spec.methods).map(([name, m]) => [name, { in: toArgs(m.in), out: toArgs(m.out) }]),
    ),
    properties: Object.fromEntries(
      Object.entries(spec.properties).map(([name, p]) => [name, { type: p.type, access: p.access }]),
    ),
    signals: Object.fromEntries(
      Object.entries(spec.signals).map(([name, s]) => [name, { args: toArgs(s.args) }]),
    ),
  };
}

/** The same data without argument names (for producers that leave them out). */
export function withoutArgNames(iface: IntrospectedInterface): IntrospectedInterface {
  const strip = (args: readonly IntrospectedArg[]): IntrospectedArg[] =>
    args.map((a) => ({ name: undefined, type: a.type }));
  return {
    name: iface.name,
    methods: Object.fromEntries(
      Object.entries(iface.methods).map(([name, m]) => [name, { in: strip(m.in), out: strip(m.out) }]),
    ),
    properties: iface.properties,
    signals: Object.fromEntries(
      Object.entries(iface.signals).map(([name, s]) => [name, { args: strip(s.args) }]),
    ),
  };
}
