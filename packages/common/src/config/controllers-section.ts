/**
 * The `[Controllers]` section: `controller=` lines (controllers to use) and
 * `exclude=` lines (controllers never to use), typed.
 *
 * Pure. Each line is tokenised by controller-spec.ts; identity fields make a
 * TID, connection options are validated with the `[Global]` rules, DH-HMAC-CHAP
 * secrets become `Secret`s. A line that cannot make a controller is an error
 * naming file:line and is skipped; the other lines still count. An `exclude=`
 * line with nothing in it is ignored with a warning (nvme-stas made it exclude
 * everything). The retired `blacklist=` key is read as `exclude=`.
 *
 * Tests: controllers-section.test.ts
 */
import type { Tid } from '../nvme/tid.js';
import { Secret } from '../util/secret.js';
import type { ConnectOptionName, ConnectOptions } from './connect-options.js';
import { connectOptionSpecs, isConnectOptionName } from './connect-options.js';
import { error, warn } from './conf-reader.js';
import { controllerFromSpec, exclusionFromSpec, parseControllerSpec } from './controller-spec.js';
import type { Diagnostic } from './diagnostic.js';
import type { IniDocument } from './ini.js';
import { entriesOf } from './ini.js';

export type ControllerRole = 'discovery' | 'io';

export interface ConfiguredController {
  readonly tid: Tid;
  /** Per-controller overrides of `[Global]` connection options (only those given, all valid). */
  readonly options: Partial<ConnectOptions>;
  readonly dhchapSecret: Secret | null;
  readonly dhchapCtrlSecret: Secret | null;
  /** Where it was configured, for messages. */
  readonly line: number;
}

export interface Exclusion {
  /** Field name → required value; a controller matching every pair is excluded. */
  readonly filter: ReadonlyMap<string, string>;
  readonly line: number;
}

/** DH-HMAC-CHAP secret representation: `DHHC-1:<hash 00..03>:<base64>:`. */
const DHCHAP_SECRET = /^DHHC-1:0[0-3]:[A-Za-z0-9+/]+={0,2}:$/;
const SECRET_KEYS = new Set(['dhchap-secret', 'dhchap-ctrl-secret']);

const SECTION = 'Controllers';

export function readControllers(
  doc: IniDocument,
  role: ControllerRole,
  allowedOptions: readonly ConnectOptionName[],
  diagnostics: Diagnostic[],
): ConfiguredController[] {
  const specs = connectOptionSpecs(null);
  const controllers: ConfiguredController[] = [];
  for (const entry of entriesOf(doc, SECTION, 'controller')) {
    const at = (message: string): string => `controller= ${message}`;
    if (entry.value === null || entry.value === '') {
      diagnostics.push(error(doc.file, entry.line, at('has no value; line ignored')));
      continue;
    }
    const tokens = parseControllerSpec(entry.value);
    const built = controllerFromSpec(tokens.fields, role);
    const problems = [...tokens.problems, ...built.problems];
    if (built.tid === undefined) {
      diagnostics.push(error(doc.file, entry.line, at(`ignored: ${problems.join('; ')}`)));
      continue;
    }
    for (const p of problems) diagnostics.push(warn(doc.file, entry.line, at(p)));

    const options: Partial<Record<ConnectOptionName, unknown>> = {};
    let dhchapSecret: Secret | null = null;
    let dhchapCtrlSecret: Secret | null = null;
    for (const [key, raw] of built.overrides) {
      if (SECRET_KEYS.has(key)) {
        if (!DHCHAP_SECRET.test(raw)) {
          diagnostics.push(
            error(
              doc.file,
              entry.line,
              at(`${key} is not a DH-HMAC-CHAP secret (DHHC-1:NN:<base64>:); ignored`),
            ),
          );
        } else if (key === 'dhchap-secret') dhchapSecret = new Secret(raw);
        else dhchapCtrlSecret = new Secret(raw);
        continue;
      }
      if (!isConnectOptionName(key) || !allowedOptions.includes(key)) {
        diagnostics.push(warn(doc.file, entry.line, at(`unknown key "${key}" ignored`)));
        continue;
      }
      const outcome = specs[key].parse(raw);
      if (!outcome.ok) {
        diagnostics.push(
          error(doc.file, entry.line, at(`${key}: ${outcome.message}; the [Global] value applies`)),
        );
        continue;
      }
      if (outcome.warning !== undefined)
        diagnostics.push(warn(doc.file, entry.line, at(`${key}: ${outcome.warning}`)));
      options[key] = outcome.value;
    }
    controllers.push({
      tid: built.tid,
      options: options as Partial<ConnectOptions>,
      dhchapSecret,
      dhchapCtrlSecret,
      line: entry.line,
    });
  }
  return controllers;
}

export function readExclusions(doc: IniDocument, diagnostics: Diagnostic[]): Exclusion[] {
  const exclusions: Exclusion[] = [];
  const entries = [...entriesOf(doc, SECTION, 'exclude'), ...entriesOf(doc, SECTION, 'blacklist')].sort(
    (a, b) => a.line - b.line,
  );
  for (const entry of entries) {
    const what = `${entry.key}=`;
    if (entry.key === 'blacklist') {
      diagnostics.push(warn(doc.file, entry.line, 'blacklist= is retired; read as exclude= (rename it)'));
    }
    if (entry.value === null || entry.value === '') {
      diagnostics.push(warn(doc.file, entry.line, `${what} is empty and matches nothing; line ignored`));
      continue;
    }
    const tokens = parseControllerSpec(entry.value);
    const built = exclusionFromSpec(tokens.fields);
    const problems = [...tokens.problems, ...built.problems];
    if (built.filter.size === 0) {
      diagnostics.push(
        warn(doc.file, entry.line, `${what} ignored: ${problems.join('; ') || 'no usable field'}`),
      );
      continue;
    }
    for (const p of problems) diagnostics.push(warn(doc.file, entry.line, `${what} ${p}`));
    exclusions.push({ filter: built.filter, line: entry.line });
  }
  return exclusions;
}
