/**
 * Who owns which watched bus name, as bus.ts learns it: reference-counted entries per name, the owner
 * from the initial GetNameOwner reply and from NameOwnerChanged signals applied in the order the bus
 * delivered them, and listeners told about every change once the initial owner is known. The signal
 * sender check of signal-router.ts asks this table who may send for a well-known name.
 *
 * Pure state: no I/O (bus.ts sends AddMatch/GetNameOwner). A throwing listener is reported through
 * `onListenerError` and does not stop the others. Tests: name-owner-table.test.ts
 */
export type OwnerListener = (owner: string | null) => void;

interface Entry {
  owner: string | null;
  known: boolean;
  refs: number;
  readonly listeners: Set<OwnerListener>;
}

export class NameOwnerTable {
  readonly #entries = new Map<string, Entry>();
  readonly #onListenerError: (err: unknown, name: string) => void;

  constructor(onListenerError: (err: unknown, name: string) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Names being watched. */
  get size(): number {
    return this.#entries.size;
  }

  /** Start (or join) watching `name`. */
  retain(name: string): void {
    const entry = this.#entries.get(name);
    if (entry !== undefined) entry.refs++;
    else this.#entries.set(name, { owner: null, known: false, refs: 1, listeners: new Set() });
  }

  /** Stop one watch of `name`; true when it was the last one (the entry is gone). */
  release(name: string): boolean {
    const entry = this.#entries.get(name);
    if (entry === undefined) return false;
    entry.refs--;
    if (entry.refs > 0) return false;
    this.#entries.delete(name);
    return true;
  }

  /** The GetNameOwner answer: authoritative as of its place in the message stream; marks the owner known. */
  setInitialOwner(name: string, owner: string | null): void {
    const entry = this.#entries.get(name);
    if (entry === undefined) return;
    const changed = entry.known && entry.owner !== owner;
    entry.owner = owner;
    entry.known = true;
    if (changed) this.#notify(name, entry);
  }

  /** A NameOwnerChanged signal (`newOwner` '' = released). */
  ownerChanged(name: string, newOwner: string): void {
    const entry = this.#entries.get(name);
    if (entry === undefined) return;
    const owner = newOwner === '' ? null : newOwner;
    if (owner === entry.owner) return;
    entry.owner = owner;
    if (entry.known) this.#notify(name, entry);
  }

  /** The current owner; undefined when `name` is not watched or its owner is not known yet. */
  ownerOf(name: string): string | null | undefined {
    const entry = this.#entries.get(name);
    return entry?.known === true ? entry.owner : undefined;
  }

  /** Add a listener to a watched name; returns its remover. */
  listen(name: string, listener: OwnerListener): () => void {
    const entry = this.#entries.get(name);
    if (entry === undefined) return () => undefined;
    entry.listeners.add(listener);
    return () => {
      entry.listeners.delete(listener);
    };
  }

  /** Forget everything (the connection is gone). */
  clear(): void {
    this.#entries.clear();
  }

  #notify(name: string, entry: Entry): void {
    for (const listener of [...entry.listeners]) {
      try {
        listener(entry.owner);
      } catch (err) {
        this.#onListenerError(err, name);
      }
    }
  }
}
