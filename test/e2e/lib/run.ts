/**
 * Runs a program inside the e2e guest without a shell (execFile) and collects
 * its output. Touches processes only. A non-zero exit, a signal or the time
 * limit rejects with a RunError that carries the output, unless `allowFailure`
 * is set, in which case the result reports the exit code. Used by the other
 * test/e2e/lib helpers and the *.e2e.test.ts suites; tested through them.
 */
import { execFile } from 'node:child_process';

export interface RunOptions {
  /** Written to the program's stdin, which is then closed. */
  readonly input?: string;
  /** Kill the program (SIGTERM) after this many ms; default 60 000. */
  readonly timeoutMs?: number;
  /** Resolve with the exit code instead of rejecting when it is not 0. */
  readonly allowFailure?: boolean;
}

export interface RunResult {
  /** Exit code; -1 when the program was ended by a signal. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class RunError extends Error {
  readonly result: RunResult;

  constructor(message: string, result: RunResult) {
    super(message);
    this.name = 'RunError';
    this.result = result;
  }
}

export function run(
  file: string,
  args: readonly string[] = [],
  options: RunOptions = {},
): Promise<RunResult> {
  const commandLine = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const code = typeof error.code === 'number' ? error.code : -1;
        const result = { code, stdout, stderr };
        if (typeof error.code === 'string') {
          reject(new RunError(`${commandLine}: ${error.message}`, result));
        } else if (error.killed === true || typeof error.signal === 'string') {
          reject(new RunError(`${commandLine}: killed (${error.signal ?? 'time limit'})\n${stderr}`, result));
        } else if (options.allowFailure === true) {
          resolve(result);
        } else {
          reject(new RunError(`${commandLine}: exit ${code}\n${stderr}`, result));
        }
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
