import { describe, expect, it } from 'vitest';
import {
  AEN_DISCOVERY_LOG_CHANGED,
  deviceOfUevent,
  nvmeAenOf,
  nvmeEventOf,
  parseUdevadmBlock,
  parseUeventDatagram,
  splitUdevadmOutput,
} from './uevent-parse.js';

const bytes = (text: string) => new TextEncoder().encode(text);

// As received on this VM after `echo change > /sys/class/mem/null/uevent`.
const MEM_NULL =
  'change@/devices/virtual/mem/null\0ACTION=change\0DEVPATH=/devices/virtual/mem/null\0SUBSYSTEM=mem\0' +
  'SYNTH_UUID=0\0MAJOR=1\0MINOR=3\0DEVNAME=null\0DEVMODE=0666\0SEQNUM=815\0';

// Shape of the lab's NVMe AEN uevent (wire digest §9.3).
const NVME_AEN =
  'change@/devices/virtual/nvme-fabrics/ctl/nvme1\0ACTION=change\0DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme1\0' +
  'SUBSYSTEM=nvme\0NVME_AEN=0x70f002\0MAJOR=246\0MINOR=1\0DEVNAME=nvme1\0NVME_TRTYPE=tcp\0NVME_TRADDR=127.0.0.1\0' +
  'NVME_TRSVCID=8009\0NVME_HOST_TRADDR=none\0NVME_HOST_IFACE=none\0SEQNUM=2001\0';

describe('parseUeventDatagram', () => {
  it('parses a real kernel uevent', () => {
    expect(parseUeventDatagram(bytes(MEM_NULL))).toEqual({
      action: 'change',
      devpath: '/devices/virtual/mem/null',
      subsystem: 'mem',
      seqnum: 815,
      properties: {
        ACTION: 'change',
        DEVPATH: '/devices/virtual/mem/null',
        SUBSYSTEM: 'mem',
        SYNTH_UUID: '0',
        MAJOR: '1',
        MINOR: '3',
        DEVNAME: 'null',
        DEVMODE: '0666',
        SEQNUM: '815',
      },
    });
  });

  it('reads the NVMe properties of an AEN uevent', () => {
    const event = parseUeventDatagram(bytes(NVME_AEN));
    expect(event).not.toBeNull();
    if (event === null) return;
    expect(nvmeAenOf(event)).toBe(AEN_DISCOVERY_LOG_CHANGED);
    expect(nvmeEventOf(event)).toBeUndefined();
    expect(deviceOfUevent(event)).toBe('nvme1');
    expect(event.properties['NVME_HOST_IFACE']).toBe('none');
  });

  it('keeps the last value of a repeated key and skips items without a key', () => {
    const event = parseUeventDatagram(bytes('add@/x\0A=1\0=v\0noequals\0A=2\0B=x=y\0'));
    expect(event?.properties).toEqual({ A: '2', B: 'x=y' });
  });

  it.each([
    ['empty', ''],
    ['no header', 'ACTION=add\0'],
    ['no @', 'add/devices/x\0'],
    ['unknown action', 'frobnicate@/devices/x\0'],
    ['relative devpath', 'add@devices/x\0'],
    ['ACTION disagreeing with the header', 'add@/x\0ACTION=remove\0'],
    ['DEVPATH disagreeing with the header', 'add@/x\0DEVPATH=/y\0'],
    ['a udevd message', 'libudev\0\xfe\xed\xca\xfe'],
  ])('refuses %s', (_what, text) => {
    expect(parseUeventDatagram(bytes(text))).toBeNull();
  });

  it('leaves a non-numeric SEQNUM undefined', () => {
    expect(parseUeventDatagram(bytes('add@/x\0SEQNUM=abc\0'))?.seqnum).toBeUndefined();
  });
});

describe('udevadm monitor output', () => {
  const OUTPUT =
    'monitor will print the received events for:\nKERNEL - the kernel uevent\n\n' +
    'KERNEL[123.456789] change   /devices/virtual/nvme-fabrics/ctl/nvme0 (nvme)\nACTION=change\n' +
    'DEVPATH=/devices/virtual/nvme-fabrics/ctl/nvme0\nSUBSYSTEM=nvme\nNVME_EVENT=connected\nDEVNAME=nvme0\nSEQNUM=4000\n\n' +
    'KERNEL[123.5] remove   /devices/virtual/nvme-fabrics/ctl/nvme0 (nvme)\nACTION=remove\n';

  it('splits complete blocks from the unfinished tail', () => {
    const { blocks, rest } = splitUdevadmOutput(OUTPUT);
    expect(blocks).toHaveLength(2);
    expect(rest).toContain('remove');
  });

  it('parses an event block and skips the banner', () => {
    const { blocks } = splitUdevadmOutput(OUTPUT);
    expect(parseUdevadmBlock(blocks[0] ?? '')).toBeNull();
    const event = parseUdevadmBlock(blocks[1] ?? '');
    expect(event).toMatchObject({
      action: 'change',
      devpath: '/devices/virtual/nvme-fabrics/ctl/nvme0',
      subsystem: 'nvme',
      seqnum: 4000,
    });
    expect(event && nvmeEventOf(event)).toBe('connected');
  });

  it('refuses blocks whose properties disagree with the header', () => {
    expect(parseUdevadmBlock('KERNEL[1.0] add /x (nvme)\nACTION=remove\n')).toBeNull();
  });
});

describe('nvmeAenOf', () => {
  it('reads hex values only', () => {
    const withAen = (v: string) => ({
      action: 'change',
      devpath: '/x',
      subsystem: 'nvme',
      seqnum: 1,
      properties: { NVME_AEN: v },
    });
    expect(nvmeAenOf(withAen('0x70f002'))).toBe(0x70f002);
    expect(nvmeAenOf(withAen('0X1'))).toBeUndefined();
    expect(nvmeAenOf(withAen('70f002'))).toBeUndefined();
  });
});
