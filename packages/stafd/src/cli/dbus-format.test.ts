import { describe, expect, it } from 'vitest';
import {
  controllersTable,
  describeController,
  entriesTable,
  formatTable,
  keyValueLines,
} from './dbus-format.js';

const DC = {
  traddr: '192.0.2.1',
  trsvcid: '8009',
  transport: 'tcp',
  subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
  'host-iface': 'eth0',
  'host-traddr': '',
  origin: 'discovered',
  state: 'ready',
  connected: 'True',
  'log-pages-state': 'fresh',
  'log-pages-entries': '2',
};

describe('stafctl tables', () => {
  it('aligns columns and does not pad the last one', () => {
    expect(
      formatTable(
        ['a', 'bb'],
        [
          ['long', 'x'],
          ['s', 'yy'],
        ],
      ),
    ).toBe('a     bb\nlong  x\ns     yy\n');
  });

  it('lists controllers, with state columns when detailed, and says when there are none', () => {
    const plain = controllersTable([DC], false).split('\n');
    expect(plain[0]).toBe(
      'transport  traddr     trsvcid  subsysnqn                             host-iface  host-traddr',
    );
    expect(plain[1]).toContain('eth0        -');
    expect(controllersTable([DC], true)).toContain('discovered  ready  True       fresh      2');
    expect(controllersTable([], false)).toBe('no discovery controllers\n');
  });

  it('lists entries with an optional indent', () => {
    const text = entriesTable([{ trtype: 'tcp', subnqn: 'nqn.x', traddr: '192.0.2.9' }], '  ');
    expect(text.split('\n')[0]?.startsWith('  trtype')).toBe(true);
    expect(text).toContain('nqn.x');
    expect(entriesTable([])).toBe('no log page entries\n');
  });

  it('names a controller in the nvme-stas display form', () => {
    expect(describeController(DC)).toBe('(tcp, 192.0.2.1, 8009, nqn.2014-08.org.nvmexpress.discovery, eth0)');
  });

  it('flattens nested objects into key: value lines', () => {
    expect(
      keyValueLines({ tron: false, mdns: { state: 'running', services: 2 }, list: ['a', 'b'], none: null }),
    ).toBe('tron: false\nmdns.state: running\nmdns.services: 2\nlist: a, b\nnone: null\n');
  });
});
