/**
 * Encodes the embedded browser's mDNS queries (RFC 6762 §5, §18): questions plus known-answer PTR
 * records, to bytes.
 *
 * Why not dns-packet's encoder: it splits names at every `.`, but a DNS-SD instance name is ONE label
 * that may contain dots (`DC.rack1 (v1.2)._nvme-disc._tcp.local`); asking for the SRV of such an
 * instance through dns-packet asks for a name that does not exist. Here a name under the service type
 * is split as `<instance>.<service labels>`, any other name at its dots.
 *
 * Pure and total: a question or answer whose name cannot be encoded (a label over 63 bytes, a name
 * over 255 bytes) is left out; known answers that would push the packet over `maxBytes` are left out
 * too (the responder then just answers them). Message ID 0, no flags, QM questions, class IN, no name
 * compression. Returns null when no question is left.
 *
 * Tests: mdns-query.test.ts (decoded with dns-packet, an independent decoder)
 */
import type { MdnsQuestion } from './mdns-records.js';
import { lowerName } from './mdns-records.js';

const TYPE_CODES = { A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33 } as const;
const CLASS_IN = 1;
const encoder = new TextEncoder();

export interface KnownAnswer {
  readonly name: string;
  readonly target: string;
  readonly ttl: number;
}

/** The labels of `name`, keeping an instance label under `serviceName` whole; null if not encodable. */
export function nameLabels(name: string, serviceName: string): Uint8Array[] | null {
  const suffix = `.${lowerName(serviceName)}`;
  const lname = lowerName(name);
  const texts =
    lname.endsWith(suffix) && lname.length > suffix.length
      ? [name.slice(0, name.length - suffix.length), ...serviceName.split('.')]
      : name.split('.');
  const labels = texts.map((text) => encoder.encode(text));
  const total = labels.reduce((n, label) => n + label.length + 1, 1);
  if (total > 255 || labels.some((label) => label.length === 0 || label.length > 63)) return null;
  return labels;
}

function encodeName(labels: readonly Uint8Array[]): number[] {
  const bytes: number[] = [];
  for (const label of labels) bytes.push(label.length, ...label);
  bytes.push(0);
  return bytes;
}

function u16(value: number): number[] {
  return [(value >> 8) & 0xff, value & 0xff];
}

function u32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** The query packet, or null if none of the questions can be encoded. */
export function encodeQuery(
  questions: readonly MdnsQuestion[],
  knownAnswers: readonly KnownAnswer[],
  serviceName: string,
  maxBytes = 1400,
): Uint8Array | null {
  const questionBytes: number[][] = [];
  for (const question of questions) {
    const labels = nameLabels(question.name, serviceName);
    if (labels !== null)
      questionBytes.push([...encodeName(labels), ...u16(TYPE_CODES[question.type]), ...u16(CLASS_IN)]);
  }
  if (questionBytes.length === 0) return null;
  let size = 12 + questionBytes.reduce((n, q) => n + q.length, 0);
  const answerBytes: number[][] = [];
  for (const answer of knownAnswers) {
    const owner = nameLabels(answer.name, serviceName);
    const target = nameLabels(answer.target, serviceName);
    if (owner === null || target === null) continue;
    const rdata = encodeName(target);
    const record = [
      ...encodeName(owner),
      ...u16(TYPE_CODES.PTR),
      ...u16(CLASS_IN),
      ...u32(Math.max(0, Math.min(0x7fffffff, Math.floor(answer.ttl)))),
      ...u16(rdata.length),
      ...rdata,
    ];
    if (size + record.length > maxBytes) continue;
    size += record.length;
    answerBytes.push(record);
  }
  const header = [...u16(0), ...u16(0), ...u16(questionBytes.length), ...u16(answerBytes.length), 0, 0, 0, 0];
  return Uint8Array.from([...header, ...questionBytes.flat(), ...answerBytes.flat()]);
}
