import { describe, expect, it } from 'vitest';
import { NameOwnerTable } from './name-owner-table.js';

function table() {
  const errors: unknown[] = [];
  return { owners: new NameOwnerTable((err) => errors.push(err)), errors };
}

describe('NameOwnerTable', () => {
  it('knows the owner only after the initial answer, and lets that answer override earlier signals', () => {
    const { owners } = table();
    owners.retain('org.nvmexpress.staf');
    const heard: (string | null)[] = [];
    owners.listen('org.nvmexpress.staf', (o) => heard.push(o));
    owners.ownerChanged('org.nvmexpress.staf', ':1.5'); // before GetNameOwner's reply
    expect(owners.ownerOf('org.nvmexpress.staf')).toBeUndefined();
    owners.setInitialOwner('org.nvmexpress.staf', ':1.6');
    expect(owners.ownerOf('org.nvmexpress.staf')).toBe(':1.6');
    expect(heard).toEqual([]);
  });

  it('tells listeners about each change after that, and nothing for a repeated owner', () => {
    const { owners } = table();
    owners.retain('n.a');
    owners.setInitialOwner('n.a', null);
    const heard: (string | null)[] = [];
    owners.listen('n.a', (o) => heard.push(o));
    owners.ownerChanged('n.a', ':1.7');
    owners.ownerChanged('n.a', ':1.7');
    owners.ownerChanged('n.a', '');
    expect(heard).toEqual([':1.7', null]);
    expect(owners.ownerOf('n.a')).toBeNull();
  });

  it('counts references and drops the entry with the last release', () => {
    const { owners } = table();
    owners.retain('n.a');
    owners.retain('n.a');
    expect(owners.release('n.a')).toBe(false);
    expect(owners.size).toBe(1);
    expect(owners.release('n.a')).toBe(true);
    expect(owners.size).toBe(0);
    expect(owners.release('n.a')).toBe(false);
    owners.ownerChanged('n.a', ':1.1'); // ignored: not watched
    expect(owners.ownerOf('n.a')).toBeUndefined();
  });

  it('reports a throwing listener and still tells the others', () => {
    const { owners, errors } = table();
    owners.retain('n.a');
    owners.setInitialOwner('n.a', null);
    const heard: (string | null)[] = [];
    owners.listen('n.a', () => {
      throw new Error('boom');
    });
    const unlisten = owners.listen('n.a', (o) => heard.push(o));
    owners.ownerChanged('n.a', ':1.2');
    unlisten();
    owners.ownerChanged('n.a', ':1.3');
    expect(heard).toEqual([':1.2']);
    expect(errors).toHaveLength(2);
  });
});
