/**
 * Validation of host identifiers: NQNs (NVMe Qualified Names) and host IDs.
 *
 * Pure. Each validator returns null when the text is acceptable, else a
 * sentence saying what is wrong, for diagnostics and CLI errors. The NQN
 * rules are the NVMe base specification's (`nqn.yyyy-mm.reverse.domain` with an
 * optional `:suffix`, or the UUID form, at most 223 bytes) plus what keeps a
 * connect string safe: no blanks, control characters, `,` or `=`.
 *
 * Tests: host-ids.test.ts
 */

export const NQN_MAX_BYTES = 223;

const NQN_DATE_FORM = /^nqn\.\d{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9][A-Za-z0-9.-]*(:.+)?$/;
const UNSAFE = /[\s,=\p{Cc}]/u;
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function nqnProblem(nqn: string): string | null {
  if (nqn === '') return 'the NQN is empty';
  if (!nqn.startsWith('nqn.')) return `"${nqn}" does not start with "nqn."`;
  const bytes = Buffer.byteLength(nqn, 'utf8');
  if (bytes > NQN_MAX_BYTES) return `the NQN is too long (${bytes} bytes, at most ${NQN_MAX_BYTES})`;
  if (UNSAFE.test(nqn)) return `"${nqn}" contains a blank, a control character, ',' or '='`;
  if (!NQN_DATE_FORM.test(nqn)) return `"${nqn}" is not of the form nqn.yyyy-mm.reverse.domain[:name]`;
  return null;
}

export function hostIdProblem(hostid: string): string | null {
  return UUID_TEXT.test(hostid) ? null : `"${hostid}" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`;
}

/** The UUID inside a `nqn.2014-08.org.nvmexpress:uuid:<uuid>` host NQN, lower-cased, or null. */
export function uuidOfHostNqn(nqn: string): string | null {
  const m = /^nqn\.2014-08\.org\.nvmexpress:uuid:(.+)$/.exec(nqn);
  const uuid = m?.[1];
  return uuid !== undefined && UUID_TEXT.test(uuid) ? uuid.toLowerCase() : null;
}

export function hostNqnForUuid(uuid: string): string {
  return `nqn.2014-08.org.nvmexpress:uuid:${uuid.toLowerCase()}`;
}
