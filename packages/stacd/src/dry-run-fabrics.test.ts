import { describe, expect, it } from 'vitest';
import type { DeviceName } from '@stas/common/kernel/fabrics-outcome';
import { createLogger } from '@stas/common/log/logger';
import { DRY_RUN_MESSAGE, DryRunFabricsDevice } from './dry-run-fabrics.js';

describe('DryRunFabricsDevice', () => {
  it('logs each connect string once, redacted, and writes nothing', async () => {
    const lines: string[] = [];
    const log = createLogger({
      name: 't',
      level: 'info',
      format: 'json',
      sink: { write: (l) => lines.push(l) },
    });
    const dev = new DryRunFabricsDevice(log, { release: '6.1.0-56-amd64' });
    const text = 'nqn=nqn.x:1,transport=tcp,traddr=10.0.0.1,dhchap_secret=DHHC-1:00:c2VjcmV0:';
    expect(await dev.connect(text)).toMatchObject({ ok: false, kind: 'other', message: DRY_RUN_MESSAGE });
    await dev.connect(text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('dhchap_secret=[redacted]');
    expect(lines[0]).not.toContain('c2VjcmV0');
    expect(await dev.disconnect('nvme3' as DeviceName)).toEqual({ ok: true, kind: 'already-gone' });
    expect(lines[1]).toContain('would delete nvme3');
    const probe = await dev.probeOptions();
    expect(probe.source).toBe('classic');
    expect(probe.options.has('host_iface')).toBe(true);
    await dev.close();
  });
});
