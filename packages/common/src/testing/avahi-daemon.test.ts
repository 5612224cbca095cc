import { describe, expect, it } from 'vitest';
import { avahiDaemonConf } from './avahi-daemon.js';

/** The key=value lines of one [section] of an avahi-daemon.conf text. */
function section(conf: string, name: string): Map<string, string> {
  const lines = conf.split('\n');
  const start = lines.indexOf(`[${name}]`);
  const out = new Map<string, string>();
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('[')) break;
    const eq = line.indexOf('=');
    if (eq > 0) out.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return out;
}

describe('avahiDaemonConf', () => {
  const conf = avahiDaemonConf('dchost', ['sabc0', 'sabc1']);

  it('names the host, allows only the given interfaces and keeps D-Bus on', () => {
    const server = section(conf, 'server');
    expect(server.get('host-name')).toBe('dchost');
    expect(server.get('allow-interfaces')).toBe('sabc0,sabc1');
    expect(server.get('enable-dbus')).toBe('yes');
    expect([server.get('use-ipv4'), server.get('use-ipv6')]).toEqual(['yes', 'yes']);
  });

  it('publishes no workstation or hinfo records and has no wide-area browsing', () => {
    expect(section(conf, 'publish').get('publish-workstation')).toBe('no');
    expect(section(conf, 'publish').get('publish-hinfo')).toBe('no');
    expect(section(conf, 'wide-area').get('enable-wide-area')).toBe('no');
  });

  it('raises the rate limit so that tests may publish in bursts', () => {
    expect(section(conf, 'server').get('ratelimit-burst')).toBe('1000');
  });
});
