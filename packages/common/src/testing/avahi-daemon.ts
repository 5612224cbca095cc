/**
 * A real avahi-daemon inside a network namespace, for the mDNS integration tests and the mDNS benchmark
 * (the harness measured in dependencies.md §2), registered on a system bus the caller provides (a private
 * dbus-daemon, reachable from any namespace through its socket path). It gets its own /run (a tmpfs in a
 * private mount namespace, so several avahi-daemons do not fight over /run/avahi-daemon/pid) and an empty
 * services directory. It runs in the foreground as a child of this process (`--no-drop-root
 * --no-chroot`); readiness is its "Server startup complete" line and its name on the bus, not a sleep.
 * `stop()` / `start()` restart it on the same bus.
 *
 * Publishing: `publish()` runs `avahi-publish -s NAME TYPE PORT TXT…` against the daemon's bus and
 * waits for "Established under name"; killing it withdraws the service (avahi sends goodbyes).
 * `publishGroup()` publishes through the D-Bus EntryGroup API instead, which can change the TXT record
 * of a live service (UpdateServiceTxt).
 *
 * Processes are killed through their ChildProcess handles; close() stops everything it started and
 * removes its temporary directory (never the bus: that is the caller's). Fails by rejecting with the
 * daemon's output.
 * Used by: test/integration/fixtures/avahi.ts (the mdns-*.test.ts), bench/mdns-connect.ts
 * Tests:   avahi-daemon.test.ts (the configuration); the daemon itself by test/integration/mdns-*.test.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { connectSystemBus, type SystemBus } from '../dbus/bus.js';

export interface AvahiDaemonOptions {
  readonly ns: string;
  readonly hostName: string;
  /** Interfaces avahi may use (names may not exist yet). */
  readonly interfaces: readonly string[];
  /** The system bus avahi-daemon registers on, e.g. `unix:path=/tmp/x/bus.sock`. */
  readonly busAddress: string;
}

export interface Publication {
  readonly pid: number;
  /** Wall-clock ms when avahi-publish was started. */
  readonly startedAt: number;
  /** Wall-clock ms when avahi-publish said the service was established (probing done, announced). */
  readonly establishedAt: number;
  /** Kill the publisher (SIGTERM by default) and wait for it to exit. */
  withdraw(signal?: NodeJS.Signals): Promise<void>;
}

export interface GroupPublication {
  updateTxt(txt: readonly string[]): Promise<void>;
  withdraw(): Promise<void>;
}

export interface AvahiDaemon {
  readonly busAddress: string;
  readonly running: boolean;
  /** Start the daemon (again). */
  start(): Promise<void>;
  /** Stop the daemon (SIGTERM by default) and wait until it has exited and left the bus. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  publish(name: string, type: string, port: number, txt: readonly string[]): Promise<Publication>;
  publishGroup(name: string, type: string, port: number, txt: readonly string[]): Promise<GroupPublication>;
  output(): string;
  close(): Promise<void>;
}

/** avahi-daemon.conf for one daemon: IPv4 and IPv6, these interfaces only, D-Bus on, no rate limit. Pure. */
export function avahiDaemonConf(hostName: string, interfaces: readonly string[]): string {
  return [
    '[server]',
    `host-name=${hostName}`,
    'domain-name=local',
    'use-ipv4=yes',
    'use-ipv6=yes',
    `allow-interfaces=${interfaces.join(',')}`,
    'enable-dbus=yes',
    'ratelimit-interval-usec=1000000',
    'ratelimit-burst=1000',
    '[wide-area]',
    'enable-wide-area=no',
    '[publish]',
    'publish-workstation=no',
    'publish-hinfo=no',
    '[reflector]',
    '[rlimits]',
    '',
  ].join('\n');
}

/** Poll `condition` every 10 ms until it is true; a throw ends the wait at once. */
async function pollUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await delay(10);
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
}

function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  const done = exited(child);
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  return done;
}

async function avahiHasOwner(bus: SystemBus): Promise<boolean> {
  return (await bus.getNameOwner('org.freedesktop.Avahi')) !== null;
}

export async function startAvahiDaemon(options: AvahiDaemonOptions): Promise<AvahiDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'stas-avahi-'));
  const services = join(dir, 'services');
  await mkdir(services);
  const conf = join(dir, 'avahi-daemon.conf');
  await writeFile(conf, avahiDaemonConf(options.hostName, options.interfaces));
  const busAddress = options.busAddress;
  const watcher = await connectSystemBus({ address: busAddress }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  let child: ChildProcess | undefined;
  let output = '';
  const publishers = new Set<ChildProcess>();
  let closed = false;

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const script = [
      'mount -t tmpfs tmpfs /run',
      'mkdir -p /run/avahi-daemon',
      `mount --bind '${services}' /etc/avahi/services`,
      `exec avahi-daemon -f '${conf}' --no-drop-root --no-chroot --no-rlimits`,
    ].join(' && ');
    const proc = spawn(
      'ip',
      ['netns', 'exec', options.ns, 'unshare', '-m', '--propagation', 'private', 'sh', '-c', script],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress } },
    );
    child = proc;
    let ready = false;
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.includes('Server startup complete')) ready = true;
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', () => {
      if (child === proc) child = undefined;
    });
    try {
      await pollUntil(
        () => {
          if (child !== proc) throw new Error('avahi-daemon exited');
          return ready;
        },
        10_000,
        `avahi-daemon in ${options.ns} to start`,
      );
      await pollUntil(() => avahiHasOwner(watcher), 5000, 'avahi on the bus');
    } catch (err) {
      await killAndWait(proc, 'SIGKILL');
      throw new Error(`${(err as Error).message}\n${output}`, { cause: err });
    }
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child;
    if (proc === undefined) return;
    await killAndWait(proc, signal);
    await pollUntil(async () => !(await avahiHasOwner(watcher)), 5000, 'avahi off the bus');
  };

  const publish = async (
    name: string,
    type: string,
    port: number,
    txt: readonly string[],
  ): Promise<Publication> => {
    const startedAt = Date.now();
    const proc = spawn('avahi-publish', ['-s', name, type, String(port), ...txt], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress },
    });
    publishers.add(proc);
    proc.once('exit', () => publishers.delete(proc));
    let text = '';
    let establishedAt = 0;
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      if (establishedAt === 0 && text.includes('Established under name')) establishedAt = Date.now();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    await pollUntil(
      () => {
        if (proc.exitCode !== null) throw new Error(`avahi-publish exited: ${text}`);
        return establishedAt !== 0;
      },
      10_000,
      `avahi-publish ${name}`,
    ).catch(async (err: unknown) => {
      await killAndWait(proc, 'SIGKILL');
      throw err;
    });
    const pid = proc.pid ?? 0;
    return { pid, startedAt, establishedAt, withdraw: (signal = 'SIGTERM') => killAndWait(proc, signal) };
  };

  const publishGroup = async (
    name: string,
    type: string,
    port: number,
    txt: readonly string[],
  ): Promise<GroupPublication> => {
    const client = await connectSystemBus({ address: busAddress });
    const server = ['org.freedesktop.Avahi', '/', 'org.freedesktop.Avahi.Server'] as const;
    const [path] = await client.call(...server, 'EntryGroupNew', '', [], { replySignature: 'o' });
    const group = ['org.freedesktop.Avahi', path as string, 'org.freedesktop.Avahi.EntryGroup'] as const;
    const bytes = (items: readonly string[]): Buffer[] => items.map((item) => Buffer.from(item, 'utf8'));
    await client.call(...group, 'AddService', 'iiussssqaay', [
      -1,
      -1,
      0,
      name,
      type,
      '',
      '',
      port,
      bytes(txt),
    ]);
    await client.call(...group, 'Commit', '', []);
    return {
      updateTxt: async (next) => {
        await client.call(...group, 'UpdateServiceTxt', 'iiusssaay', [
          -1,
          -1,
          0,
          name,
          type,
          '',
          bytes(next),
        ]);
      },
      withdraw: async () => {
        await client.call(...group, 'Free', '', []).catch(() => undefined);
        await client.close();
      },
    };
  };

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all([...publishers].map((p) => killAndWait(p, 'SIGKILL')));
    const proc = child;
    if (proc !== undefined) await killAndWait(proc, 'SIGKILL');
    await watcher.close();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await start();
  } catch (err) {
    await close();
    throw err;
  }
  return {
    busAddress,
    get running() {
      return child !== undefined;
    },
    start,
    stop,
    publish,
    publishGroup,
    output: () => output,
    close,
  };
}
