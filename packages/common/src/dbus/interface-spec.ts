/**
 * The declarative description of a D-Bus interface (methods with named arguments, properties, signals)
 * and the TypeScript types derived from it: handler arguments as objects keyed by argument name, return
 * values, signal payloads. The API mirrors (staf-api.ts, stac-api.ts) are values of these types; bus.ts
 * exports services from them and calls them.
 *
 * Pure: no I/O, never throws (values are checked against the types in signature.ts, not here).
 * Tests: interface-spec.test.ts
 */
import type { DBusValue } from './signature.js';

export interface ArgSpec {
  readonly name: string;
  /** A single complete D-Bus type, e.g. `s`, `b`, `aa{ss}`. */
  readonly type: string;
}

export interface MethodSpec {
  readonly in: readonly ArgSpec[];
  readonly out: readonly ArgSpec[];
}

export type PropertyAccess = 'read' | 'readwrite';

export interface PropertySpec {
  readonly type: string;
  readonly access: PropertyAccess;
}

export interface SignalSpec {
  readonly args: readonly ArgSpec[];
}

export interface InterfaceSpec {
  readonly name: string;
  readonly methods: Readonly<Record<string, MethodSpec>>;
  readonly properties: Readonly<Record<string, PropertySpec>>;
  readonly signals: Readonly<Record<string, SignalSpec>>;
}

/** Where a service lives: its well-known bus name and object path. */
export interface ServiceLocation {
  readonly busName: string;
  readonly objectPath: string;
}

/** A whole service API: location, error-name prefix and the interfaces at the object path. */
export interface ServiceApi extends ServiceLocation {
  /** Prefix of the service's own error names, e.g. `org.nvmexpress.staf.Error`. */
  readonly errorPrefix: string;
  readonly interfaces: readonly InterfaceSpec[];
}

/** Arguments as an object keyed by argument name, e.g. `{ detailed: boolean }`. */
export type ArgsObject<A extends readonly ArgSpec[]> = {
  [K in A[number] as K['name']]: DBusValue<K['type']>;
};

/** What a method returns: nothing, its single out-argument, or an object of its out-arguments. */
export type MethodResult<M extends MethodSpec> = M['out'] extends readonly []
  ? undefined
  : M['out'] extends readonly [infer Only extends ArgSpec]
    ? DBusValue<Only['type']>
    : ArgsObject<M['out']>;

export type MethodArgs<M extends MethodSpec> = ArgsObject<M['in']>;
export type SignalArgs<S extends SignalSpec> = ArgsObject<S['args']>;
export type PropertyValue<P extends PropertySpec> = DBusValue<P['type']>;

export type MethodName<I extends InterfaceSpec> = keyof I['methods'] & string;
export type PropertyName<I extends InterfaceSpec> = keyof I['properties'] & string;
export type SignalName<I extends InterfaceSpec> = keyof I['signals'] & string;
export type WritablePropertyName<I extends InterfaceSpec> = {
  [P in PropertyName<I>]: I['properties'][P]['access'] extends 'readwrite' ? P : never;
}[PropertyName<I>];

/** The D-Bus signature of an argument list: the concatenation of the argument types. */
export function signatureOf(args: readonly ArgSpec[]): string {
  return args.map((a) => a.type).join('');
}

/** Order the values of an argument object as a message body. A missing argument is `undefined`. */
export function argsToBody(args: readonly ArgSpec[], values: Readonly<Record<string, unknown>>): unknown[] {
  return args.map((a) => values[a.name]);
}

/** Turn a message body into an object keyed by argument name (the body length must already match). */
export function bodyToArgs(args: readonly ArgSpec[], body: readonly unknown[]): Record<string, unknown> {
  return Object.fromEntries(args.map((a, i) => [a.name, body[i]]));
}

/** The body of a method reply from a handler's result (see MethodResult). */
export function resultToBody(out: readonly ArgSpec[], result: unknown): unknown[] {
  if (out.length === 0) return [];
  if (out.length === 1) return [result];
  if (typeof result !== 'object' || result === null) return out.map(() => undefined);
  return argsToBody(out, result as Record<string, unknown>);
}

/** A handler's result (see MethodResult) from the body of a method reply. */
export function bodyToResult(out: readonly ArgSpec[], body: readonly unknown[]): unknown {
  if (out.length === 0) return undefined;
  if (out.length === 1) return body[0];
  return bodyToArgs(out, body);
}
