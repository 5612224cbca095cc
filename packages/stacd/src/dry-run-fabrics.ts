/**
 * A FabricsDevice that never touches the kernel: for `stacd --dry-run`, the
 * demo mode, and hosts without /dev/nvme-fabrics. Each connect string it is
 * given is logged once (secrets redacted) as "would write", each delete as
 * "would delete"; connects answer with a failure of kind `other` ("dry run:
 * nothing written"), deletes with `already-gone`. The option probe answers
 * with the classic option set of the running kernel release.
 *
 * No I/O besides the logger. Tests: dry-run-fabrics.test.ts
 */
import { release } from 'node:os';
import { redactConnectString } from '@stas/common/kernel/connect-args';
import type { FabricsDevice } from '@stas/common/kernel/fabrics-device';
import type { FabricsOptionSet } from '@stas/common/kernel/fabrics-options';
import { classicFabricsOptions } from '@stas/common/kernel/fabrics-options';
import type { ConnectOutcome, DeviceName, DisconnectOutcome } from '@stas/common/kernel/fabrics-outcome';
import type { Logger } from '@stas/common/log/logger';

export const DRY_RUN_MESSAGE = 'dry run: nothing written';

export class DryRunFabricsDevice implements FabricsDevice {
  readonly #log: Logger;
  readonly #release: string;
  readonly #seen = new Set<string>();

  constructor(log: Logger, opts: { release?: string } = {}) {
    this.#log = log;
    this.#release = opts.release ?? release();
  }

  connect(text: string): Promise<ConnectOutcome> {
    const shown = redactConnectString(text);
    if (!this.#seen.has(shown)) {
      this.#seen.add(shown);
      this.#log.info(`dry run: would write to /dev/nvme-fabrics: ${shown}`);
    }
    return Promise.resolve({
      ok: false,
      kind: 'other',
      errno: '',
      transient: false,
      stage: 'write',
      message: DRY_RUN_MESSAGE,
    });
  }

  disconnect(device: DeviceName): Promise<DisconnectOutcome> {
    this.#log.info({ device }, `dry run: would delete ${device}`);
    return Promise.resolve({ ok: true, kind: 'already-gone' });
  }

  probeOptions(): Promise<FabricsOptionSet> {
    return Promise.resolve({ options: classicFabricsOptions(this.#release), source: 'classic' });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
