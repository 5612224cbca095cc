/**
 * NVMe completion status names (generic, command-specific and Fabrics codes a discovery host meets)
 * and the bridge to NvmeStatusError.
 *
 * Pure and total: never throws (an unknown code gets a generic "SCT x / SC 0xYY" name), no I/O.
 * `StatusCode` holds 16-bit `(SCT<<8)|SC` values, the form Linux/libnvme print without DNR/More/CRD,
 * so a simulator can answer e.g. `statusFromValue(StatusCode.InvalidOpcode | STATUS_DNR)`.
 * Command-specific codes overlap between commands; the names here are those of the commands a
 * discovery host sends (AER, Get Log Page, DIM, Connect).
 *
 * Used by: nvme/session/* (error messages, retry decisions), testing/dc-sim.ts
 * Tests:   status.test.ts
 */
import { NvmeStatusError } from '../../errors.js';
import { isSuccess, statusValue, type NvmeStatus } from './cqe.js';

/** Status Code Type values. */
export const StatusCodeType = {
  Generic: 0,
  CommandSpecific: 1,
  MediaAndDataIntegrity: 2,
  PathRelated: 3,
  VendorSpecific: 7,
} as const;

/** DNR bit of the 16-bit status value. */
export const STATUS_DNR = 0x4000;
/** More bit of the 16-bit status value. */
export const STATUS_MORE = 0x2000;

/** 16-bit `(SCT<<8)|SC` status values (Appendix A). */
export const StatusCode = {
  Success: 0x0000,
  InvalidOpcode: 0x0001,
  InvalidField: 0x0002,
  CommandIdConflict: 0x0003,
  DataTransferError: 0x0004,
  AbortedPowerLoss: 0x0005,
  InternalError: 0x0006,
  AbortRequested: 0x0007,
  AbortedSqDeletion: 0x0008,
  InvalidNamespaceOrFormat: 0x000b,
  CommandSequenceError: 0x000c,
  InvalidSglSegmentDescriptor: 0x000d,
  InvalidNumberOfSglDescriptors: 0x000e,
  DataSglLengthInvalid: 0x000f,
  MetadataSglLengthInvalid: 0x0010,
  SglDescriptorTypeInvalid: 0x0011,
  SglOffsetInvalid: 0x0016,
  HostIdInconsistentFormat: 0x0018,
  KeepAliveTimerExpired: 0x0019,
  KeepAliveTimeoutInvalid: 0x001a,
  CommandInterrupted: 0x0021,
  TransientTransportError: 0x0022,
  AsyncEventRequestLimitExceeded: 0x0105,
  InvalidLogPage: 0x0109,
  InvalidDiscoveryInformation: 0x012f,
  ZoningDataStructureLocked: 0x0130,
  ZoningDataStructureNotFound: 0x0131,
  InsufficientDiscoveryResources: 0x0132,
  RequestedFunctionDisabled: 0x0133,
  ZoneGroupOriginatorInvalid: 0x0134,
  ConnectIncompatibleFormat: 0x0180,
  ConnectControllerBusy: 0x0181,
  ConnectInvalidParameters: 0x0182,
  ConnectRestartDiscovery: 0x0183,
  ConnectInvalidHost: 0x0184,
  DisconnectInvalidQueueType: 0x0185,
  DiscoveryRestart: 0x0190,
  AuthenticationRequired: 0x0191,
} as const;

const NAMES: Readonly<Record<number, string>> = {
  [StatusCode.Success]: 'Success',
  [StatusCode.InvalidOpcode]: 'Invalid Command Opcode',
  [StatusCode.InvalidField]: 'Invalid Field in Command',
  [StatusCode.CommandIdConflict]: 'Command ID Conflict',
  [StatusCode.DataTransferError]: 'Data Transfer Error',
  [StatusCode.AbortedPowerLoss]: 'Commands Aborted due to Power Loss Notification',
  [StatusCode.InternalError]: 'Internal Error',
  [StatusCode.AbortRequested]: 'Command Abort Requested',
  [StatusCode.AbortedSqDeletion]: 'Command Aborted due to SQ Deletion',
  [StatusCode.InvalidNamespaceOrFormat]: 'Invalid Namespace or Format',
  [StatusCode.CommandSequenceError]: 'Command Sequence Error',
  [StatusCode.InvalidSglSegmentDescriptor]: 'Invalid SGL Segment Descriptor',
  [StatusCode.InvalidNumberOfSglDescriptors]: 'Invalid Number of SGL Descriptors',
  [StatusCode.DataSglLengthInvalid]: 'Data SGL Length Invalid',
  [StatusCode.MetadataSglLengthInvalid]: 'Metadata SGL Length Invalid',
  [StatusCode.SglDescriptorTypeInvalid]: 'SGL Descriptor Type Invalid',
  [StatusCode.SglOffsetInvalid]: 'SGL Offset Invalid',
  [StatusCode.HostIdInconsistentFormat]: 'Host Identifier Inconsistent Format',
  [StatusCode.KeepAliveTimerExpired]: 'Keep Alive Timer Expired',
  [StatusCode.KeepAliveTimeoutInvalid]: 'Keep Alive Timeout Invalid',
  [StatusCode.CommandInterrupted]: 'Command Interrupted',
  [StatusCode.TransientTransportError]: 'Transient Transport Error',
  [StatusCode.AsyncEventRequestLimitExceeded]: 'Asynchronous Event Request Limit Exceeded',
  [StatusCode.InvalidLogPage]: 'Invalid Log Page',
  [StatusCode.InvalidDiscoveryInformation]: 'Invalid Discovery Information',
  [StatusCode.ZoningDataStructureLocked]: 'Zoning Data Structure Locked',
  [StatusCode.ZoningDataStructureNotFound]: 'Zoning Data Structure Not Found',
  [StatusCode.InsufficientDiscoveryResources]: 'Insufficient Discovery Resources',
  [StatusCode.RequestedFunctionDisabled]: 'Requested Function Disabled',
  [StatusCode.ZoneGroupOriginatorInvalid]: 'ZoneGroup Originator Invalid',
  [StatusCode.ConnectIncompatibleFormat]: 'Connect Incompatible Format',
  [StatusCode.ConnectControllerBusy]: 'Connect Controller Busy',
  [StatusCode.ConnectInvalidParameters]: 'Connect Invalid Parameters',
  [StatusCode.ConnectRestartDiscovery]: 'Connect Restart Discovery',
  [StatusCode.ConnectInvalidHost]: 'Connect Invalid Host',
  [StatusCode.DisconnectInvalidQueueType]: 'Disconnect Invalid Queue Type',
  [StatusCode.DiscoveryRestart]: 'Discovery Restart',
  [StatusCode.AuthenticationRequired]: 'Authentication Required',
};

function hex(v: number, width: number): string {
  return `0x${v.toString(16).padStart(width, '0')}`;
}

/** Name of an SCT/SC pair, e.g. "Invalid Field in Command"; "SCT 2 / SC 0x81" when unknown. */
export function statusName(status: Pick<NvmeStatus, 'sct' | 'sc'>): string {
  const code = ((status.sct & 0x7) << 8) | (status.sc & 0xff);
  return NAMES[code] ?? `SCT ${status.sct & 0x7} / SC ${hex(status.sc & 0xff, 2)}`;
}

/** One-line description: "Invalid Field in Command (0x4002: SCT 0, SC 0x02, DNR)". */
export function describeStatus(status: NvmeStatus): string {
  const flags = [status.dnr ? 'DNR' : '', status.more ? 'More' : '', status.crd ? `CRD ${status.crd}` : '']
    .filter((f) => f !== '')
    .join(', ');
  const detail = `${hex(statusValue(status), 4)}: SCT ${status.sct}, SC ${hex(status.sc, 2)}${flags ? `, ${flags}` : ''}`;
  return `${statusName(status)} (${detail})`;
}

/**
 * The error for a failed command, or undefined on success. `what` names the command for the message
 * ("Get Log Page 0x70", "Connect").
 */
export function statusError(status: NvmeStatus, what: string): NvmeStatusError | undefined {
  if (isSuccess(status)) return undefined;
  return new NvmeStatusError(status, `${what} failed: ${describeStatus(status)}`);
}
