/**
 * Linux network interface names, as stas accepts them in `host-iface=` and in
 * an IPv6 `%scope`.
 *
 * Pure, total (never throws). The kernel's rule (dev_valid_name): 1..15
 * bytes, not `.` or `..`, no `/`, `:` or white space. stas accepts printable
 * ASCII only (the kernel's isspace() also matches byte 0xA0, which occurs
 * inside many UTF-8 sequences) and refuses the two characters that would break
 * a /dev/nvme-fabrics connect string (`,` and `=`).
 *
 * Tests: ifname.test.ts
 */

/** IFNAMSIZ (16) minus the terminating NUL. */
export const IFNAME_MAX_BYTES = 15;

const ALLOWED = /^[!-~]+$/;
const FORBIDDEN = /[/:,=]/;

export function isValidIfName(name: string): boolean {
  if (name.length > IFNAME_MAX_BYTES || name === '.' || name === '..') return false;
  return ALLOWED.test(name) && !FORBIDDEN.test(name);
}
