/**
 * DNS-SD TXT records of `_nvme-disc._tcp` services, parsed: hostile network
 * input in, a small validated key/value map out.
 *
 * Pure. Each TXT item is `key=value` (RFC 6763 §6): the key is everything
 * before the FIRST `=` (so values may contain `=`, which nvme-stas dropped),
 * folded to lower case; items that are empty, start with `=`, are not UTF-8
 * printable text, or are oversized are ignored; the first occurrence of a key
 * wins (RFC 6763 §6.4). At most MAX_TXT_ITEMS items are looked at.
 *
 * Tests: txt.test.ts
 */
export const MAX_TXT_ITEMS = 64;
export const MAX_TXT_ITEM_BYTES = 255;

const decoder = new TextDecoder('utf-8', { fatal: true });

export function parseTxt(items: readonly (Uint8Array | string)[]): Map<string, string> {
  const txt = new Map<string, string>();
  for (const raw of items.slice(0, MAX_TXT_ITEMS)) {
    let text: string;
    if (typeof raw === 'string') text = raw;
    else {
      if (raw.length > MAX_TXT_ITEM_BYTES) continue;
      try {
        text = decoder.decode(raw);
      } catch {
        continue;
      }
    }
    if (text.length === 0 || text.length > MAX_TXT_ITEM_BYTES || /\p{Cc}/u.test(text)) continue;
    const eq = text.indexOf('=');
    if (eq === 0) continue;
    const key = (eq < 0 ? text : text.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : text.slice(eq + 1);
    if (!txt.has(key)) txt.set(key, value);
  }
  return txt;
}
