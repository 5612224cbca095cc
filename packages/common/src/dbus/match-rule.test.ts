import { describe, expect, it } from 'vitest';
import { BusError } from './bus-error.js';
import { buildMatchRule, quoteMatchValue } from './match-rule.js';

describe('buildMatchRule', () => {
  it('writes the fields in a fixed order, each quoted', () => {
    expect(
      buildMatchRule({
        path: '/org/freedesktop/DBus',
        member: 'NameOwnerChanged',
        arg0: 'org.nvmexpress.staf',
        interface: 'org.freedesktop.DBus',
        sender: 'org.freedesktop.DBus',
        type: 'signal',
      }),
    ).toBe(
      "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus'," +
        "member='NameOwnerChanged',path='/org/freedesktop/DBus',arg0='org.nvmexpress.staf'",
    );
  });

  it('leaves out absent fields, so equal subscriptions give equal text', () => {
    const a = buildMatchRule({ type: 'signal', sender: ':1.4', interface: 'org.x.I' });
    const b = buildMatchRule({ interface: 'org.x.I', sender: ':1.4', type: 'signal', member: undefined });
    expect(a).toBe("type='signal',sender=':1.4',interface='org.x.I'");
    expect(b).toBe(a);
  });

  it("escapes an apostrophe as '\\''", () => {
    expect(quoteMatchValue("it's")).toBe("'it'\\''s'");
  });

  it('refuses an empty rule', () => {
    expect(() => buildMatchRule({})).toThrow(BusError);
  });
});
