/**
 * DNS host names as stas accepts them in `traddr=` (tcp/rdma), where an IP
 * literal is not given.
 *
 * Pure, total (never throws). Rule: RFC 1123 syntax: dot-separated labels of
 * 1..63 ASCII letters, digits and `-`, not starting or ending with `-`; at most
 * 253 characters; one trailing `.` (fully qualified) allowed. The last label
 * must not be all digits, so a malformed IP literal (`1.2.3`, `256.1.1.1`,
 * `01.1.1.1`) is never mistaken for a host name. Underscores are refused.
 *
 * Tests: host-name.test.ts
 */

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const ALL_DIGITS = /^[0-9]+$/;

export function isValidHostName(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name === '' || name.length > 253) return false;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return false;
  return !ALL_DIGITS.test(labels[labels.length - 1] ?? '');
}
