import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  argsToBody,
  bodyToArgs,
  bodyToResult,
  resultToBody,
  signatureOf,
  type ArgsObject,
  type MethodResult,
  type WritablePropertyName,
} from './interface-spec.js';
import { STAF_DEBUG_INTERFACE, STAF_INTERFACE } from './staf-api.js';

const TWO_OUT = [
  { name: 'sender', type: 's' },
  { name: 'uid', type: 'u' },
] as const;

describe('interface spec helpers', () => {
  it('concatenate argument types into a signature', () => {
    expect(signatureOf(STAF_INTERFACE.signals.log_pages_changed.args)).toBe('ssssssss');
    expect(signatureOf(STAF_INTERFACE.methods.list_controllers.out)).toBe('aa{ss}');
    expect(signatureOf([])).toBe('');
  });

  it('order an argument object as a body and back', () => {
    const args = STAF_INTERFACE.methods.get_log_pages.in;
    const values = {
      host_nqn: 'q',
      transport: 'tcp',
      traddr: '1.1.1.1',
      trsvcid: '8009',
      subsysnqn: 'n',
      host_traddr: '',
      host_iface: 'eth0',
    };
    const body = argsToBody(args, values);
    expect(body).toEqual(['tcp', '1.1.1.1', '8009', 'n', '', 'eth0', 'q']);
    expect(bodyToArgs(args, body)).toEqual(values);
  });

  it('map method results to bodies: none, one value, or an object of several', () => {
    expect(resultToBody([], undefined)).toEqual([]);
    expect(resultToBody(STAF_INTERFACE.methods.get_all_log_pages.out, '[]')).toEqual(['[]']);
    expect(resultToBody(TWO_OUT, { uid: 0, sender: ':1.2' })).toEqual([':1.2', 0]);
    expect(bodyToResult(TWO_OUT, [':1.2', 0])).toEqual({ sender: ':1.2', uid: 0 });
    expect(bodyToResult([], [])).toBeUndefined();
    expect(bodyToResult(STAF_INTERFACE.methods.list_controllers.out, [[]])).toEqual([]);
  });

  it('derive handler types from the spec', () => {
    expectTypeOf<ArgsObject<typeof STAF_INTERFACE.methods.list_controllers.in>>().toEqualTypeOf<{
      detailed: boolean;
    }>();
    expectTypeOf<MethodResult<typeof STAF_INTERFACE.methods.list_controllers>>().toEqualTypeOf<
      Record<string, string>[]
    >();
    expectTypeOf<MethodResult<{ in: []; out: typeof TWO_OUT }>>().toEqualTypeOf<{
      sender: string;
      uid: number;
    }>();
    expectTypeOf<WritablePropertyName<typeof STAF_DEBUG_INTERFACE>>().toEqualTypeOf<'tron'>();
  });
});
