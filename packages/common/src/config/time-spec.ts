/**
 * Time-spec parsing for `zeroconf-connections-persistence` (nvme-stas-behaviour.md
 * §1.8): "72 hours", "1d2h", "1:02:03", "-1", "0.5" → seconds.
 *
 * Pure; never throws. Returns null for anything invalid, including what
 * nvme-stas accepted but a rewrite should not: `nan`, `inf` and any other
 * non-finite result, and malformed numbers such as `1..5h` (which raised in
 * nvme-stas). Other deliberate differences: only `+`/`-` are signs (the
 * original's character class also took `|`), input longer than
 * MAX_TIME_SPEC_LENGTH is rejected, and -0 is returned as 0. Unicode decimal
 * digits are accepted like Python's float()/`\d` did. Tests: time-spec.test.ts.
 *
 * Grammar, case-insensitive, surrounding blanks allowed:
 * 1. a plain number as Python float() reads it (sign, `_` between digits,
 *    decimals, exponent) → that number;
 * 2. otherwise an optional sign (`+`/`-`, blanks may follow) and then one of
 *    - unit form `[N days] [N hours] [N mins] [N secs]` in this order, at least
 *      one part; N is `[0-9.]+`; blanks between number and unit; after a days,
 *      hours or minutes part optionally one `,` or `/`;
 *      units: d dy dys day days | h hr hrs hour hours | m min mins minute
 *      minutes | s sec secs second seconds;
 *    - `MM:SS[.f]` (1-2 digit minutes), `[N days] H:MM:SS[.f]`,
 *      `D:HH:MM:SS[.f]`, `:SS[.f]` (no range checks: `1:60` = 120).
 * Value: all numbers whole → integer sum. Otherwise, when seconds are absent or
 * whole: the sign times the TRUNCATED sum of the other parts, plus the seconds
 * (unsigned, as nvme-stas did: `-1.5m 30s` = -60). Otherwise the exact sum.
 */

export const MAX_TIME_SPEC_LENGTH = 256;

const SECONDS = { days: 86_400, hours: 3_600, mins: 60, secs: 1 } as const;
type Unit = keyof typeof SECONDS;
const UNIT_ORDER: readonly Unit[] = ['days', 'hours', 'mins', 'secs'];

const SPELLINGS: Readonly<Record<string, Unit>> = {
  d: 'days',
  dy: 'days',
  dys: 'days',
  day: 'days',
  days: 'days',
  h: 'hours',
  hr: 'hours',
  hrs: 'hours',
  hour: 'hours',
  hours: 'hours',
  m: 'mins',
  min: 'mins',
  mins: 'mins',
  minute: 'mins',
  minutes: 'mins',
  s: 'secs',
  sec: 'secs',
  secs: 'secs',
  second: 'secs',
  seconds: 'secs',
};

type Parts = Partial<Record<Unit, string>>;

const DIGIT_RUN = /\p{Nd}/u;

/** Value of a Unicode decimal digit: they come in runs of ten, 0 to 9, so count back to the run's start. */
function digitValue(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x80) return ch;
  let n = 0;
  while (n < 100 && DIGIT_RUN.test(String.fromCodePoint(cp - n - 1))) n++;
  return String(n % 10);
}

function asciiDigits(text: string): string {
  return text.replace(/\p{Nd}/gu, digitValue);
}

const PY_FLOAT = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:e[+-]?\d(?:_?\d)*)?$/i;

/** A plain number as Python float() reads it (non-finite spellings give undefined: they are rejected anyway). */
function plainNumber(text: string): number | undefined {
  return PY_FLOAT.test(text) ? Number(text.replace(/_/g, '')) : undefined;
}

const UNIT_PART = /([\d.]+)\s*([a-z]+)/iy;
const SEPARATOR = /\s*(?:[,/]\s*)?/y;
const BLANKS = /\s*/y;

/** The unit form (`1d 2h`, `1m,30s`, `72hours`), scanned left to right (no regex backtracking). */
function unitForm(text: string): Parts | undefined {
  const parts: Parts = {};
  let pos = 0;
  let nextUnit = 0;
  while (pos < text.length) {
    UNIT_PART.lastIndex = pos;
    const m = UNIT_PART.exec(text);
    if (m === null) return undefined;
    const [, number = '', spelling = ''] = m;
    const unit = SPELLINGS[spelling.toLowerCase()];
    if (unit === undefined) return undefined;
    const order = UNIT_ORDER.indexOf(unit);
    if (order < nextUnit) return undefined;
    nextUnit = order + 1;
    parts[unit] = number;
    const after = unit === 'secs' ? BLANKS : SEPARATOR;
    after.lastIndex = UNIT_PART.lastIndex;
    after.exec(text);
    pos = after.lastIndex;
  }
  return nextUnit > 0 ? parts : undefined;
}

const FRACTIONAL_SECONDS = String.raw`(\d{2}(?:\.\d+)?)`;
const MIN_CLOCK = new RegExp(String.raw`^(\d{1,2}):${FRACTIONAL_SECONDS}$`);
const HOUR_CLOCK = new RegExp(
  String.raw`^(?:([\d.]+)\s*(?:days|day|dys|dy|d)\s*(?:[,/]\s*)?)?(\d+):(\d{2}):${FRACTIONAL_SECONDS}$`,
  'i',
);
const DAY_CLOCK = new RegExp(String.raw`^(\d+):(\d{2}):(\d{2}):${FRACTIONAL_SECONDS}$`);
const SEC_CLOCK = new RegExp(String.raw`^:${FRACTIONAL_SECONDS}$`);

function clockForm(text: string): Parts | undefined {
  let m = MIN_CLOCK.exec(text);
  if (m !== null) return { mins: m[1], secs: m[2] };
  m = HOUR_CLOCK.exec(text);
  if (m !== null) return { days: m[1], hours: m[2], mins: m[3], secs: m[4] };
  m = DAY_CLOCK.exec(text);
  if (m !== null) return { days: m[1], hours: m[2], mins: m[3], secs: m[4] };
  m = SEC_CLOCK.exec(text);
  if (m !== null) return { secs: m[1] };
  return undefined;
}

const WHOLE = /^\d+$/;
const DECIMAL = /^(?:\d+\.?\d*|\.\d+)$/;

function total(parts: Parts, sign: number): number | null {
  const present = UNIT_ORDER.flatMap((unit) => {
    const text = parts[unit];
    return text === undefined ? [] : [{ unit, text }];
  });
  if (present.every((p) => WHOLE.test(p.text))) {
    return sign * present.reduce((sum, p) => sum + Number(p.text) * SECONDS[p.unit], 0);
  }
  if (!present.every((p) => DECIMAL.test(p.text))) return null;
  const secs = parts.secs;
  if (secs === undefined || WHOLE.test(secs)) {
    const others = present
      .filter((p) => p.unit !== 'secs')
      .reduce((sum, p) => sum + Number(p.text) * SECONDS[p.unit], 0);
    return sign * Math.trunc(others) + (secs === undefined ? 0 : Number(secs));
  }
  return sign * present.reduce((sum, p) => sum + Number(p.text) * SECONDS[p.unit], 0);
}

/** Seconds for a time-spec, or null when the text is not a valid, finite time-spec. */
export function parseTimeSpec(text: string): number | null {
  if (text.length > MAX_TIME_SPEC_LENGTH) return null;
  const trimmed = asciiDigits(text).trim();
  let value: number | null | undefined = plainNumber(trimmed);
  if (value === undefined) {
    const signed = trimmed.startsWith('-') || trimmed.startsWith('+');
    const sign = trimmed.startsWith('-') ? -1 : 1;
    const rest = signed ? trimmed.slice(1).trimStart() : trimmed;
    const parts = unitForm(rest) ?? clockForm(rest);
    value = parts === undefined ? null : total(parts, sign);
  }
  if (value === null || !Number.isFinite(value)) return null;
  return value === 0 ? 0 : value;
}
