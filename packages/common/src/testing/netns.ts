/**
 * Two network namespaces joined by veth pairs, for the mDNS integration tests and the mDNS benchmark
 * (dependencies.md §2): side `a` (where the publisher's avahi-daemon runs) and side `b` (where the browser
 * under test looks). Each link gets an IPv4 /24 and an IPv6 ULA /64 on both ends, added without duplicate
 * address detection (DAD is off in both namespaces) so addresses are usable at once; loopback is up; there
 * is no default route (storage fabrics often have none).
 *
 * Names are unique per call (`stas-<pid>-<random>-a|b`, interfaces `<random>a<n>` / `<random>b<n>`), so
 * test files can run in parallel. `addLink()` joins the namespaces by one more veth pair (a
 * hot-plugged interface). `close()` deletes both namespaces (their interfaces go with them); it is
 * idempotent and meant for afterAll. Creating a pair also deletes namespaces that an earlier, crashed
 * process (its pid no longer exists) left behind.
 *
 * Needs root and iproute2. Touches only its own namespaces and links. Fails by rejecting with the
 * stderr of the command that failed.
 * Used by: test/integration/fixtures/netns.ts (the mdns-*.test.ts), bench/mdns-connect.ts
 * Tests:   netns.test.ts (names and addresses); the namespaces themselves by test/integration/mdns-*.test.ts
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LinkEnd {
  readonly ns: string;
  readonly iface: string;
  readonly ipv4: string;
  readonly ipv6: string;
}

export interface Link {
  readonly index: number;
  readonly a: LinkEnd;
  readonly b: LinkEnd;
}

export interface NetnsPair {
  readonly nsA: string;
  readonly nsB: string;
  readonly links: readonly Link[];
  /** The interface names link `index` will have (to configure avahi before the link exists). */
  ifaceNames(index: number): { readonly a: string; readonly b: string };
  /** Join the namespaces by one more veth pair (link index = links.length). */
  addLink(): Promise<Link>;
  /** Remove a link (both ends). */
  removeLink(index: number): Promise<void>;
  /** Run a command inside a namespace and collect its output. */
  exec(ns: string, command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }>;
  /** Start a long-running command inside a namespace. */
  spawn(ns: string, command: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  close(): Promise<void>;
}

const PREFIX = 'stas-';

async function ip(args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', [...args]);
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The namespaces of ours in `ip netns list` output whose creating process is gone (`alive(pid)` false).
 * Pure.
 */
export function staleNetnsNames(listing: string, alive: (pid: number) => boolean): string[] {
  const stale: string[] = [];
  for (const line of listing.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = /^stas-(\d+)-[a-z0-9]+-[ab]$/.exec(name);
    if (match === null || alive(Number(match[1]))) continue;
    stale.push(name);
  }
  return stale;
}

/** Delete namespaces of ours whose creating process is gone. */
async function sweepStale(): Promise<void> {
  const list = await ip(['netns', 'list']).catch(() => '');
  for (const name of staleNetnsNames(list, pidAlive)) {
    await ip(['netns', 'del', name]).catch(() => undefined);
  }
}

/** The addresses of link `index`: 10.(99-index).0.1|2/24 and fd00:(99-index)::1|2/64. Pure. */
export function linkAddresses(index: number): { a4: string; b4: string; a6: string; b6: string } {
  const net = 99 - index;
  return {
    a4: `10.${net}.0.1`,
    b4: `10.${net}.0.2`,
    a6: `fd00:${net}::1`,
    b6: `fd00:${net}::2`,
  };
}

export async function createNetnsPair(): Promise<NetnsPair> {
  await sweepStale();
  const tag = randomBytes(4).toString('hex').slice(0, 6);
  const nsA = `${PREFIX}${process.pid}-${tag}-a`;
  const nsB = `${PREFIX}${process.pid}-${tag}-b`;
  const links: Link[] = [];
  let closed = false;

  const ifaceNames = (index: number): { a: string; b: string } => ({
    a: `s${tag}a${index}`,
    b: `s${tag}b${index}`,
  });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await ip(['netns', 'del', nsA]).catch(() => undefined);
    await ip(['netns', 'del', nsB]).catch(() => undefined);
  };

  const addLink = async (): Promise<Link> => {
    const index = links.length;
    const names = ifaceNames(index);
    const addr = linkAddresses(index);
    await ip(['link', 'add', names.a, 'netns', nsA, 'type', 'veth', 'peer', 'name', names.b, 'netns', nsB]);
    for (const [ns, iface, v4, v6] of [
      [nsA, names.a, addr.a4, addr.a6],
      [nsB, names.b, addr.b4, addr.b6],
    ] as const) {
      await ip(['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', iface]);
      await ip(['-n', ns, 'addr', 'add', `${v6}/64`, 'dev', iface, 'nodad']);
      await ip(['-n', ns, 'link', 'set', iface, 'up']);
    }
    const link: Link = {
      index,
      a: { ns: nsA, iface: names.a, ipv4: addr.a4, ipv6: addr.a6 },
      b: { ns: nsB, iface: names.b, ipv4: addr.b4, ipv6: addr.b6 },
    };
    links.push(link);
    return link;
  };

  try {
    for (const ns of [nsA, nsB]) {
      await ip(['netns', 'add', ns]);
      await run('ip', [
        'netns',
        'exec',
        ns,
        'sysctl',
        '-qw',
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
      ]);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await addLink();
  } catch (err) {
    await close();
    throw err;
  }

  return {
    nsA,
    nsB,
    links,
    ifaceNames,
    addLink,
    removeLink: async (index) => {
      const link = links[index];
      if (link === undefined) return;
      await ip(['-n', nsA, 'link', 'del', link.a.iface]);
    },
    exec: async (ns, command, args) => {
      const { stdout, stderr } = await run('ip', ['netns', 'exec', ns, command, ...args]);
      return { stdout, stderr };
    },
    spawn: (ns, command, args, options = {}) => spawn('ip', ['netns', 'exec', ns, command, ...args], options),
    close,
  };
}
