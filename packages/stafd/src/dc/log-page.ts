/**
 * One DC's last known discovery log page as stafd holds it, and entry
 * equality (what "the log page changed" means: fix F15, the D-Bus signal is
 * sent only when the entries really differ, not on every read).
 *
 * Pure. Entries are compared field by field (TSAS included) in order; GENCTR
 * and the fetch time are not part of the comparison (a DC bumps GENCTR for
 * changes this host does not see, e.g. with PLEO).
 *
 * Used by: dc/runner.ts, daemon.ts, dbus/controller-dicts.ts
 * Tests:   log-page.test.ts
 */
import type { DiscoveryLogEntry, Tsas } from '@stas/common/nvme/wire/discovery-log';

export interface LogPage {
  /** Entries as kept after sanitizeEntries (placeholders and unusable referrals dropped). */
  readonly entries: readonly DiscoveryLogEntry[];
  /** GENCTR as decimal text (a 64-bit counter). */
  readonly genctr: string;
  /** When it was read from the DC, ms since the epoch. */
  readonly fetchedAt: number;
  /** Loaded from the cache and not read from the DC again yet. */
  readonly stale: boolean;
}

/** `fresh`: read from the DC by this process; `stale`: from the cache only; `unknown`: never read. */
export type LogPageState = 'fresh' | 'stale' | 'unknown';

export function logPageState(page: LogPage | null): LogPageState {
  if (page === null) return 'unknown';
  return page.stale ? 'stale' : 'fresh';
}

function sameTsas(a: Tsas, b: Tsas): boolean {
  switch (a.kind) {
    case 'tcp':
      return b.kind === 'tcp' && a.sectype === b.sectype;
    case 'rdma':
      return (
        b.kind === 'rdma' &&
        a.qptype === b.qptype &&
        a.prtype === b.prtype &&
        a.cms === b.cms &&
        a.pkey === b.pkey
      );
    case 'none':
      return b.kind === 'none';
  }
}

export function sameEntry(a: DiscoveryLogEntry, b: DiscoveryLogEntry): boolean {
  return (
    a.trtype === b.trtype &&
    a.adrfam === b.adrfam &&
    a.subtype === b.subtype &&
    a.treq === b.treq &&
    a.portid === b.portid &&
    a.cntlid === b.cntlid &&
    a.asqsz === b.asqsz &&
    a.eflags === b.eflags &&
    a.trsvcid === b.trsvcid &&
    a.subnqn === b.subnqn &&
    a.traddr === b.traddr &&
    sameTsas(a.tsas, b.tsas)
  );
}

/** Same entries in the same order. */
export function sameEntries(a: readonly DiscoveryLogEntry[], b: readonly DiscoveryLogEntry[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((entry, i) => {
    const other = b[i];
    return other !== undefined && sameEntry(entry, other);
  });
}
