/**
 * Diagnostics: every problem found in a configuration file, as data.
 *
 * Parsers and validators never throw and never log; they return diagnostics.
 * Each names the file and the 1-based line it is about (0 when it concerns the
 * whole file, e.g. "cannot read"), so admins can jump to it. `error` means the
 * file (or value) cannot be used as written; `warning` means stas went on with
 * a documented fallback (default value, ignored line) that the admin should fix.
 */
export type Severity = 'error' | 'warning';

export interface Diagnostic {
  readonly severity: Severity;
  readonly file: string;
  /** 1-based line number; 0 when the diagnostic concerns the whole file. */
  readonly line: number;
  readonly message: string;
}

/** `file:line: severity: message`, the format compilers and `sshd -t` use. */
export function formatDiagnostic(d: Diagnostic): string {
  const place = d.line > 0 ? `${d.file}:${d.line}` : d.file;
  return `${place}: ${d.severity}: ${d.message}`;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
