/**
 * The one place that names the stas release, for `--version` of every tool.
 */
export const STAS_VERSION = '0.1.0';

export function versionText(program: string): string {
  return `${program} (stas) ${STAS_VERSION}`;
}
