/**
 * Builds a @particle/dbus-next service interface from a declarative InterfaceSpec and its handlers, with
 * the library's non-decorator API (`Interface.configureMembers`; decorators do not work with our TS
 * settings, dependencies.md §1). What this adds on top of the library:
 *
 * - handlers receive arguments as an object keyed by argument name plus a CallContext (the caller's
 *   unique name and, on demand, its uid: the daemons redact secrets for non-root callers, spec §9 F12);
 * - every value crossing the boundary is checked against its signature (signature.ts);
 * - every handler failure becomes a DBusError with a stable name `<errorPrefix>.<Kind>`; the message and
 *   stack of an unexpected error never reach the caller (the library would send `e.stack`), they go to
 *   `onHandlerError`;
 * - a D-Bus Set that changes properties sends PropertiesChanged with every property whose value changed;
 * - introspection carries argument names (the library leaves them out; we fill them in from the spec).
 *
 * Touches nothing by itself: bus.ts exports the result and supplies the ServiceHost.
 * Throws BusError DBUS_INVALID_ARGS for an unusable spec. Tests: test/integration/dbus-bus.test.ts,
 * test/integration/dbus-introspection.test.ts
 */
import { isDeepStrictEqual } from 'node:util';
import { DBusError, interface as dbusInterface, type Message } from '@particle/dbus-next';
import { BusError, INTERNAL_ERROR_TEXT, ServiceError, serviceErrorName } from './bus-error.js';
import {
  argsToBody,
  bodyToArgs,
  resultToBody,
  signatureOf,
  type ArgSpec,
  type InterfaceSpec,
  type MethodArgs,
  type MethodSpec,
  type MethodName,
  type MethodResult,
  type PropertyName,
  type PropertySpec,
  type PropertyValue,
  type SignalArgs,
  type SignalName,
} from './interface-spec.js';
import { conformValue, parseSingleType, type DBusTypeNode } from './signature.js';

/** Who is calling, for handlers that answer differently per caller. */
export interface CallContext {
  /** The caller's unique bus name (e.g. `:1.42`); `''` if unknown. */
  readonly sender: string;
  /** The caller's Unix uid as the bus daemon saw it at connection time (cached per call). */
  callerUid(): Promise<number>;
}

export type MethodHandler<M extends MethodSpec> = (
  args: MethodArgs<M>,
  ctx: CallContext,
) => MethodResult<M> | Promise<MethodResult<M>>;

export interface ReadOnlyPropertyImpl<P extends PropertySpec> {
  get(): PropertyValue<P>;
}
export interface ReadWritePropertyImpl<P extends PropertySpec> extends ReadOnlyPropertyImpl<P> {
  /** Apply a value set over D-Bus. Synchronous: the library answers Set when this returns. */
  set(value: PropertyValue<P>, ctx: CallContext): void;
}
export type PropertyImpl<P extends PropertySpec> = P['access'] extends 'readwrite'
  ? ReadWritePropertyImpl<P>
  : ReadOnlyPropertyImpl<P>;

/** The implementation of an interface: one handler per method, one accessor pair per property. */
export interface InterfaceImpl<I extends InterfaceSpec> {
  readonly methods: { readonly [M in MethodName<I>]: MethodHandler<I['methods'][M]> };
  readonly properties: { readonly [P in PropertyName<I>]: PropertyImpl<I['properties'][P]> };
}

export interface ExportOptions {
  /** Prefix of the error names handlers produce, e.g. `org.nvmexpress.staf.Error`. */
  readonly errorPrefix: string;
  /** Told about every unexpected failure (the caller only sees `<errorPrefix>.Internal`). */
  readonly onHandlerError?: (
    err: unknown,
    where: { readonly interface: string; readonly member: string },
  ) => void;
}

/** What bus.ts provides to built interfaces. */
export interface ServiceHost {
  /** The method-call message being dispatched right now (set by a pre-dispatch hook). */
  currentMessage(): Message | undefined;
  /** org.freedesktop.DBus.GetConnectionUnixUser(sender). */
  callerUid(sender: string): Promise<number>;
}

/** A built interface: the library object to export, plus typed emitters. */
export interface BuiltInterface<I extends InterfaceSpec> {
  readonly spec: I;
  readonly iface: dbusInterface.Interface;
  readonly readOnlyProperties: ReadonlySet<string>;
  emit<S extends SignalName<I>>(signal: S, args: SignalArgs<I['signals'][S]>): void;
  propertiesChanged(names: readonly PropertyName<I>[]): void;
}

const RESERVED_MEMBER_NAMES = new Set(['constructor', ...Object.getOwnPropertyNames(Object.prototype)]);

type LooseHandler = (args: Record<string, unknown>, ctx: CallContext) => unknown;
interface LooseProperty {
  get(): unknown;
  set?(value: unknown, ctx: CallContext): void;
}
type EmitFn = (...body: unknown[]) => void;

function specError(spec: InterfaceSpec, why: string): never {
  throw new BusError('DBUS_INVALID_ARGS', `interface spec ${spec.name}: ${why}`);
}

function argNodes(spec: InterfaceSpec, args: readonly ArgSpec[], where: string): DBusTypeNode[] {
  return args.map((a) => {
    try {
      return parseSingleType(a.type);
    } catch {
      return specError(spec, `${where} argument '${a.name}' has a bad type '${a.type}'`);
    }
  });
}

function conformAll(
  nodes: readonly DBusTypeNode[],
  args: readonly ArgSpec[],
  body: readonly unknown[],
  what: string,
) {
  return nodes.map((node, i) => {
    const result = conformValue(node, body[i], `${what}(${args[i]?.name ?? String(i)})`);
    if (!result.ok) throw new BusError('DBUS_INVALID_ARGS', result.problem);
    return result.value;
  });
}

function makeContext(host: ServiceHost, matches: (msg: Message) => boolean): CallContext {
  const msg = host.currentMessage();
  const sender = msg !== undefined && matches(msg) && typeof msg.sender === 'string' ? msg.sender : '';
  let uid: Promise<number> | undefined;
  return {
    sender,
    callerUid: () => {
      if (sender === '') {
        return Promise.reject(new BusError('DBUS_INVALID_ARGS', 'caller of this call is unknown'));
      }
      uid ??= host.callerUid(sender);
      return uid;
    },
  };
}

/** Add argument names from the spec to the library's introspection tree of this interface. */
function nameIntrospectionArgs(tree: unknown, spec: InterfaceSpec): void {
  if (typeof tree !== 'object' || tree === null) return;
  const record = tree as Record<string, unknown>;
  const label = (
    entries: unknown,
    lookup: (member: string) => { in: readonly ArgSpec[]; out: readonly ArgSpec[] } | undefined,
  ) => {
    if (!Array.isArray(entries)) return;
    for (const entry of entries as unknown[]) {
      if (typeof entry !== 'object' || entry === null) continue;
      const e = entry as { $?: { name?: unknown }; arg?: unknown };
      const member = typeof e.$?.name === 'string' ? lookup(e.$.name) : undefined;
      if (member === undefined || !Array.isArray(e.arg)) continue;
      let inIndex = 0;
      let outIndex = 0;
      for (const arg of e.arg as unknown[]) {
        if (typeof arg !== 'object' || arg === null) continue;
        const attrs = (arg as { $?: Record<string, unknown> }).$;
        if (attrs === undefined) continue;
        const named = attrs.direction === 'out' ? member.out[outIndex++] : member.in[inIndex++];
        if (named !== undefined) attrs.name = named.name;
      }
    }
  };
  label(record.method, (name) => spec.methods[name]);
  label(record.signal, (name) => {
    const signal = spec.signals[name];
    return signal === undefined ? undefined : { in: signal.args, out: [] };
  });
}

/** Build the library interface object for `spec` implemented by `impl`. */
export function buildServiceInterface<I extends InterfaceSpec>(
  spec: I,
  impl: InterfaceImpl<I>,
  options: ExportOptions,
  host: ServiceHost,
): BuiltInterface<I> {
  try {
    new DBusError(serviceErrorName(options.errorPrefix, 'Internal'), '');
  } catch {
    specError(spec, `bad error prefix '${options.errorPrefix}'`);
  }
  const seen = new Set<string>();
  for (const name of [
    ...Object.keys(spec.methods),
    ...Object.keys(spec.properties),
    ...Object.keys(spec.signals),
  ]) {
    if (seen.has(name)) specError(spec, `member '${name}' is declared twice`);
    if (RESERVED_MEMBER_NAMES.has(name) || name.startsWith('$'))
      specError(spec, `member name '${name}' is reserved`);
    seen.add(name);
  }

  const toDBusError = (err: unknown, member: string): DBusError => {
    if (err instanceof ServiceError && err.kind !== 'Internal') {
      return new DBusError(serviceErrorName(options.errorPrefix, err.kind), err.message);
    }
    if (err instanceof DBusError) return err;
    options.onHandlerError?.(err, { interface: spec.name, member });
    return new DBusError(serviceErrorName(options.errorPrefix, 'Internal'), INTERNAL_ERROR_TEXT);
  };

  class Exported extends dbusInterface.Interface {}
  const proto = Exported.prototype as unknown as Record<string, unknown>;
  const handlers = impl.methods as unknown as Readonly<Record<string, LooseHandler>>;
  const accessors = impl.properties as unknown as Readonly<Record<string, LooseProperty>>;

  const methodOptions: Record<string, dbusInterface.MethodOptions> = {};
  for (const [name, method] of Object.entries(spec.methods)) {
    const handler = handlers[name];
    if (typeof handler !== 'function') specError(spec, `no handler for method '${name}'`);
    const inNodes = argNodes(spec, method.in, name);
    const outNodes = argNodes(spec, method.out, name);
    proto[name] = function (...body: unknown[]): Promise<unknown> {
      const ctx = makeContext(host, (msg) => msg.interface === spec.name && msg.member === name);
      return (async () => {
        let args: unknown[];
        try {
          args = conformAll(inNodes, method.in, body, name);
        } catch (err) {
          throw new DBusError(
            serviceErrorName(options.errorPrefix, 'InvalidArgs'),
            (err as BusError).message,
          );
        }
        try {
          const result = await handler(bodyToArgs(method.in, args), ctx);
          const out = conformAll(outNodes, method.out, resultToBody(method.out, result), `${name} reply`);
          return out.length === 0 ? undefined : out.length === 1 ? out[0] : out;
        } catch (err) {
          throw toDBusError(err, name);
        }
      })();
    };
    methodOptions[name] = { inSignature: signatureOf(method.in), outSignature: signatureOf(method.out) };
  }

  const propertyNodes = new Map<string, DBusTypeNode>();
  const readOnly = new Set<string>();
  const readProperty = (name: string): unknown => {
    const node = propertyNodes.get(name);
    const accessor = accessors[name];
    if (node === undefined || accessor === undefined) return undefined;
    const result = conformValue(node, accessor.get(), name);
    if (!result.ok) throw new BusError('DBUS_INVALID_ARGS', result.problem);
    return result.value;
  };
  const snapshot = (): Map<string, unknown> => {
    const values = new Map<string, unknown>();
    for (const name of propertyNodes.keys()) {
      try {
        values.set(name, readProperty(name));
      } catch {
        values.set(name, undefined);
      }
    }
    return values;
  };
  const exported: { iface?: dbusInterface.Interface } = {};
  const announce = (values: Record<string, unknown>): void => {
    if (exported.iface !== undefined && Object.keys(values).length > 0) {
      dbusInterface.Interface.emitPropertiesChanged(exported.iface, values, []);
    }
  };

  const propertyOptions: Record<string, dbusInterface.PropertyOptions> = {};
  for (const [name, property] of Object.entries(spec.properties)) {
    const accessor = accessors[name];
    if (accessor === undefined || typeof accessor.get !== 'function')
      specError(spec, `no getter for property '${name}'`);
    let node: DBusTypeNode;
    try {
      node = parseSingleType(property.type);
    } catch {
      return specError(spec, `property '${name}' has a bad type '${property.type}'`);
    }
    propertyNodes.set(name, node);
    const writable = property.access === 'readwrite';
    if (writable && typeof accessor.set !== 'function')
      specError(spec, `no setter for read-write property '${name}'`);
    if (!writable) readOnly.add(name);
    Object.defineProperty(proto, name, {
      get(): unknown {
        try {
          return readProperty(name);
        } catch (err) {
          throw toDBusError(err, name);
        }
      },
      set(value: unknown): void {
        if (!writable || accessor.set === undefined) {
          throw new DBusError(
            'org.freedesktop.DBus.Error.PropertyReadOnly',
            `property '${name}' is read-only`,
          );
        }
        const checked = conformValue(node, value, name);
        if (!checked.ok) {
          throw new DBusError(serviceErrorName(options.errorPrefix, 'InvalidArgs'), checked.problem);
        }
        const ctx = makeContext(
          host,
          (msg) =>
            msg.interface === 'org.freedesktop.DBus.Properties' &&
            msg.member === 'Set' &&
            msg.body[0] === spec.name &&
            msg.body[1] === name,
        );
        const before = snapshot();
        try {
          accessor.set(checked.value, ctx);
        } catch (err) {
          throw toDBusError(err, name);
        }
        const changed: Record<string, unknown> = {};
        for (const [key, after] of snapshot()) {
          if (after !== undefined && !isDeepStrictEqual(before.get(key), after)) changed[key] = after;
        }
        announce(changed);
      },
    });
    propertyOptions[name] = { signature: property.type, access: writable ? 'readwrite' : 'read' };
  }

  const signalOptions: Record<string, dbusInterface.SignalOptions> = {};
  const signalNodes = new Map<string, DBusTypeNode[]>();
  for (const [name, signal] of Object.entries(spec.signals)) {
    signalNodes.set(name, argNodes(spec, signal.args, name));
    const single = signal.args.length === 1;
    // configureMembers wraps this: the wrapper emits what it returns as the signal body.
    proto[name] = (...body: unknown[]): unknown => (single ? body[0] : body);
    signalOptions[name] = { signature: signatureOf(signal.args) };
  }

  Exported.configureMembers({ methods: methodOptions, properties: propertyOptions, signals: signalOptions });

  const baseIntrospect: unknown = Reflect.get(dbusInterface.Interface.prototype, '$introspect');
  if (typeof baseIntrospect === 'function') {
    Object.defineProperty(proto, '$introspect', {
      value: function (this: unknown): unknown {
        const tree: unknown = Reflect.apply(baseIntrospect, this, []);
        nameIntrospectionArgs(tree, spec);
        return tree;
      },
    });
  }

  const iface = new Exported(spec.name);
  exported.iface = iface;
  const emitters = iface as unknown as Readonly<Record<string, EmitFn>>;

  return {
    spec,
    iface,
    readOnlyProperties: readOnly,
    emit(signal, args) {
      const nodes = signalNodes.get(signal);
      const declared = spec.signals[signal];
      const emitter = emitters[signal];
      if (nodes === undefined || declared === undefined || emitter === undefined) {
        throw new BusError('DBUS_INVALID_ARGS', `${spec.name} has no signal '${signal}'`);
      }
      const body = conformAll(nodes, declared.args, argsToBody(declared.args, args), signal);
      emitter.apply(iface, body);
    },
    propertiesChanged(names) {
      const values: Record<string, unknown> = {};
      for (const name of names) values[name] = readProperty(name);
      announce(values);
    },
  };
}
