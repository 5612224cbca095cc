import { createRequire } from 'node:module';
import { Message, Variant } from '@particle/dbus-next';
import { describe, expect, it } from 'vitest';
import { BusError } from './bus-error.js';
import { EncodeUnsupportedError, encodeMessage, type OutgoingMessage } from './wire-encode.js';

const { marshallMessage } = createRequire(import.meta.url)('@particle/dbus-next/lib/marshall-compat.js') as {
  marshallMessage: (msg: Record<string, unknown>) => [Buffer, unknown[]];
};

/** The library's bytes for `msg` (it mutates what it encodes, so it gets a copy that keeps Message's getters). */
function libraryBytes(msg: OutgoingMessage): Buffer {
  const copy = Object.assign(Object.create(Object.getPrototypeOf(msg) as object) as object, msg);
  return marshallMessage(copy as Record<string, unknown>)[0];
}

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

function encodeError(msg: OutgoingMessage): unknown {
  try {
    encodeMessage(msg);
  } catch (err) {
    return err;
  }
  return undefined;
}

/** encodeMessage fails with DBUS_INVALID_ARGS, its text has `text`, and the library refuses the message too. */
function expectRefused(msg: OutgoingMessage, text: string): void {
  const err = encodeError(msg);
  expect(err).toBeInstanceOf(BusError);
  expect((err as BusError).code).toBe('DBUS_INVALID_ARGS');
  expect((err as BusError).message).toContain(text);
  expect(() => libraryBytes(msg)).toThrow();
}

function expectUnsupported(msg: OutgoingMessage): void {
  const err = encodeError(msg);
  expect(err).toBeInstanceOf(EncodeUnsupportedError);
  expect((err as EncodeUnsupportedError).code).toBe('DBUS_ENCODE_UNSUPPORTED');
}

const REPLY = { type: 2, serial: 2, replySerial: 7, destination: ':1.5' } as const;

describe('encodeMessage', () => {
  it('writes a method return with an array of strings as the D-Bus specification lays it out', () => {
    const bytes = encodeMessage({ ...REPLY, signature: 'as', body: [['ab']] });
    const expected = hex(`
      6c 02 00 01  0b000000  02000000  20000000
      05 01 75 00  07000000
      06 01 73 00  04000000 3a312e35 00 000000
      08 01 67 00  02 6173 00
      07000000  02000000 6162 00`);
    expect(bytes.equals(expected)).toBe(true);
  });

  it('pads the header fields to 8 bytes even when the body is empty', () => {
    const bytes = encodeMessage({ ...REPLY });
    expect(bytes.length).toBe(40);
    expect(bytes.readUInt32LE(4)).toBe(0);
    expect(bytes.subarray(37).equals(Buffer.alloc(3))).toBe(true);
  });

  it('matches the library for Message instances of each type', () => {
    const call = new Message({
      type: 1,
      serial: 9,
      destination: 'org.nvmexpress.staf',
      path: '/org/nvmexpress/staf',
      interface: 'org.nvmexpress.staf',
      member: 'list_controllers',
      signature: 'b',
      body: [true],
    });
    const reply = Message.newMethodReturn(call, 'aa{ss}', [
      [{ transport: 'tcp', traddr: '192.168.1.1' }, {}],
    ]);
    reply.serial = 10;
    const signal = Message.newSignal(
      '/org/nvmexpress/staf',
      'org.nvmexpress.staf',
      'log_pages_changed',
      'a{sv}',
      [
        {
          x: new Variant('t', 2n ** 64n - 1n),
          y: new Variant('ay', Buffer.from([1, 2])),
          z: new Variant('d', -0),
        },
      ],
    );
    signal.serial = 11;
    const error = Message.newError(
      call as unknown as string,
      'org.nvmexpress.staf.Error.NotFound',
      'no such DC',
    );
    error.serial = 12;
    for (const msg of [call, reply, signal, error]) {
      expect(encodeMessage(msg).equals(libraryBytes(msg))).toBe(true);
    }
  });

  it('writes long and non-ASCII strings as UTF-8, lone surrogates as U+FFFD like the library', () => {
    for (const text of ['x'.repeat(5000), 'café ∑ 😀', `${'a'.repeat(63)}é`, 'bad \ud800 half', '']) {
      const msg = { ...REPLY, signature: 'sas', body: [text, [text, 'b']] };
      expect(encodeMessage(msg).equals(libraryBytes(msg))).toBe(true);
    }
  });

  it('keeps the library conversions: numbers and strings for 64-bit types, 0/1 booleans, Buffers as text', () => {
    const msg = {
      ...REPLY,
      signature: 'ttxbbssd',
      body: [2 ** 60, '18446744073709551615', -5, 1, 0, Buffer.from('héllo'), 'x', -0],
    };
    const bytes = encodeMessage(msg);
    expect(bytes.equals(libraryBytes(msg))).toBe(true);
    const body = bytes.subarray(bytes.length - bytes.readUInt32LE(4));
    // 2 ** 60 goes through String(): 1152921504606847000, not 1152921504606846976
    expect(body.readBigUInt64LE(0)).toBe(1152921504606847000n);
  });

  it('reads dictionary keys as the library does: parseInt for integers, true/false for booleans', () => {
    const msg = {
      ...REPLY,
      signature: 'a{ys}a{bv}a{xs}',
      body: [{ 7: 'a', 200: 'b' }, { true: new Variant('s', 'x') }, { '-9': 'c' }],
    };
    expect(encodeMessage(msg).equals(libraryBytes(msg))).toBe(true);
  });

  it('fails like the library for a wrong JavaScript type, naming the signature and the argument', () => {
    expectRefused(
      { ...REPLY, signature: 'baa{ss}', body: [true, [{ traddr: 5 }]] },
      "signature 'baa{ss}': argument 2",
    );
    expectRefused({ ...REPLY, signature: 'as', body: ['ab'] }, "'as' needs an array");
    expectRefused({ ...REPLY, signature: 'a{ss}', body: [new Map()] }, "'a{ss}' needs a plain object");
    expectRefused({ ...REPLY, signature: 'v', body: ['x'] }, "'v' needs a Variant");
    expectRefused({ ...REPLY, signature: '(si)', body: [['a']] }, 'struct of 2 members');
    expectRefused({ ...REPLY, signature: 'a{ss}', body: [{ a: undefined }] }, "'s' needs a value");
  });

  it('refuses a NUL in a string, out-of-range numbers and bad signatures, as the library does', () => {
    expectRefused({ ...REPLY, signature: 's', body: ['a\0b'] }, 'without NUL');
    expectRefused({ ...REPLY, signature: 'y', body: [256] }, "'y' needs an integer in 0…255");
    expectRefused({ ...REPLY, signature: 'u', body: [1.5] }, "'u' needs an integer");
    expectRefused({ ...REPLY, signature: 'd', body: [NaN] }, "'d' needs a finite number");
    // The library's INT64 minimum is -(2^63 - 1).
    expectRefused({ ...REPLY, signature: 'x', body: [-(2n ** 63n)] }, "'x' needs a value in");
    expectRefused({ ...REPLY, signature: 't', body: ['1.5'] }, "'t' needs a bigint or an integer");
    expectRefused({ ...REPLY, signature: 'g', body: ['a{s'] }, "'g' needs a signature");
    expectRefused({ ...REPLY, signature: 'g', body: ['y'.repeat(256)] }, 'longer than 255 characters');
  });

  it('refuses what the library cannot send: dictionaries with u or d keys, a message without serial or type', () => {
    expectRefused(
      { ...REPLY, signature: 'a{us}', body: [{ 1: 'a' }] },
      "cannot send dictionaries with 'u' keys",
    );
    expectRefused({ ...REPLY, serial: 0 }, 'missing serial');
    expectRefused({ ...REPLY, type: undefined }, 'missing type');
    expectRefused({ ...REPLY, signature: 'ss', body: ['a'] }, 'takes 2 arguments, got 1');
    expectRefused({ ...REPLY, path: 5 }, 'header field path');
    expectRefused({ ...REPLY, serial: 2 ** 32 }, 'serial');
  });

  it("leaves unix fds and the library's odd conversions to the library", () => {
    expectUnsupported({ ...REPLY, signature: 'h', body: [3] });
    expectUnsupported({ ...REPLY, signature: 'v', body: [new Variant('ah', [])] });
    expectUnsupported({ ...REPLY, signature: 'v', body: [new Variant('ss', 'x')] });
    expectUnsupported({ ...REPLY, signature: 'aas', body: [[new Variant('s', 'x')]] });
    expectUnsupported({ ...REPLY, signature: 'ay', body: [5] });
    expectUnsupported({ ...REPLY, signature: 't', body: [{ toString: () => '5' }] });
    expectUnsupported({ ...REPLY, signature: '()', body: [[]] });
    expectUnsupported({ ...REPLY, signature: null });
  });
});
