/**
 * A value that must never reach a log line, a D-Bus reply or `--json` output
 * by accident: DH-HMAC-CHAP secrets, TLS PSKs, the host key.
 *
 * String conversion and JSON serialisation both yield "[redacted]"; the one
 * way to get the text is `reveal()`, which call sites use only where the
 * secret is really needed (writing a connect string to the kernel).
 *
 * Tests: secret.test.ts
 */
import { inspect } from 'node:util';

export const REDACTED = '[redacted]';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
