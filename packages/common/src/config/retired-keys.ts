/**
 * Keys that nvme-stas once accepted and stas no longer uses, with what to tell
 * an admin whose old file still has them. Shared by the stafd and stacd schemas.
 */
export const RETIRED_KEYS: Readonly<Record<string, string>> = {
  'udev-rule':
    "stas does not override nvme-cli's udev rules; it records ownership in /run/nvme/registry instead",
  'sticky-connections':
    'replaced by disconnect-scope and disconnect-trtypes in [I/O controller connection management]',
  'duplicate-connect': 'removed in nvme-stas 2.2; duplicate connections are never made',
};
