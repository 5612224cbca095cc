/**
 * What a DC runner needs of a discovery session: the narrow port over
 * @stas/common's DiscoverySession (which satisfies it as is), so that runner
 * tests can drive a fake session and the daemon can be run against fakes.
 *
 * Types plus the one real adapter (`openRealSession`), which is
 * openDiscoverySession itself. No I/O of its own.
 *
 * Used by: dc/runner.ts, daemon.ts
 * Tests:   runner.test.ts (fake), test/integration/stafd-*.test.ts (real)
 */
import type {
  DiscoveryLogRead,
  DiscoverySessionOptions,
  ReadLogOptions,
  RegistrationInfo,
  SessionEvent,
} from '@stas/common/nvme/session/discovery-session';
import { openDiscoverySession } from '@stas/common/nvme/session/discovery-session';

/** The Identify Controller fields the runner shows or decides on. */
export interface SessionIdentify {
  /** 0 not reported, 1 DDC, 2 CDC. */
  readonly dctype: number;
  /** 0 not reported, 2 discovery. */
  readonly cntrltype: number;
  readonly mn: string;
  readonly sn: string;
  readonly fr: string;
  readonly cntlid: number;
}

export interface DcSession {
  readonly identify: SessionIdentify;
  readonly aenEnabled: boolean;
  /** AENs and the final close (one consumer). */
  readonly events: AsyncIterable<SessionEvent>;
  /** `maxEntries`/`maxEntriesSetting`: the entry limit of this read (NVME_DLP_TOO_LARGE above it). */
  readDiscoveryLog(options: ReadLogOptions): Promise<DiscoveryLogRead>;
  register(info: RegistrationInfo, options: { signal?: AbortSignal }): Promise<number>;
  deregister(info: RegistrationInfo, options: { signal?: AbortSignal }): Promise<number>;
  /** Orderly close; resolves when the connection is gone. Idempotent. */
  close(): Promise<void>;
}

export type OpenSession = (
  options: DiscoverySessionOptions,
  control: { readonly signal?: AbortSignal },
) => Promise<DcSession>;

/** The real thing: an NVMe/TCP discovery session (nvme/session/discovery-session.ts). */
export const openRealSession: OpenSession = (options, control) => openDiscoverySession(options, control);
