/**
 * The DIM (TP8010 Discovery Information Management) command a host sends to register with, or
 * deregister from, a DDC/CDC: one extended entry with the host NQN, HOSTID (and SYMNAME), TRADDR
 * empty so the DC takes the connection's source address (libnvme's nvmf_register_ctrl values).
 *
 * Pure: builds an AdminCommand for the queue; the session gates it on DCTYPE (never sent to a DC that
 * does not take registrations, §7.3). Throws WireError WIRE_ENCODE_RANGE only for values that cannot
 * be encoded.
 *
 * Used by: discovery-session.ts
 * Tests:   discovery-session.test.ts (CDC simulator records the registration)
 */
import { hostname as osHostname, release as osRelease, type as osType } from 'node:os';
import { DimTask, dimCommand, encodeDimData, hostRegistrationData } from '../wire/dim.js';
import { Adrfam } from '../wire/discovery-log.js';
import type { AdminCommand } from './admin-queue.js';
import { hostIdBytes } from './session-options.js';

export interface RegistrationInfo {
  /** ENAME; default os.hostname(). */
  readonly hostname?: string;
  /** EVER; default "<os.type()> <os.release()>". */
  readonly version?: string;
  readonly symname?: string;
}

export interface RegistrationHost {
  readonly hostnqn: string;
  /** UUID text. */
  readonly hostid: string;
  /** IP family of the DC's address (ADRFAM of the entry). */
  readonly family: 4 | 6;
}

/** DIM with TAS register (0) or deregister (1). */
export function registrationCommand(
  tas: typeof DimTask.Register | typeof DimTask.Deregister,
  host: RegistrationHost,
  info: RegistrationInfo,
): AdminCommand {
  const data = encodeDimData(
    hostRegistrationData({
      hostnqn: host.hostnqn,
      hostid: hostIdBytes(host.hostid),
      hostname: info.hostname ?? osHostname(),
      version: info.version ?? `${osType()} ${osRelease()}`,
      ...(info.symname !== undefined ? { symname: info.symname } : {}),
      adrfam: host.family === 6 ? Adrfam.Ipv6 : Adrfam.Ipv4,
    }),
  );
  return {
    name: tas === DimTask.Register ? 'DIM register' : 'DIM deregister',
    build: (cid) => dimCommand({ cid, tas, tdl: data.length }),
    hostData: data,
  };
}
