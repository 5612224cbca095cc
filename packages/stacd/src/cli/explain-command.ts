/**
 * `stacctl explain [--json]`: what stacd's planner decides for every wanted or existing I/O
 * controller, and why (the `explain` method: a fresh plan, nothing executed).
 *
 * Human output: what stafd answered, the disconnect policy, then one row per controller: action,
 * reason code, device, controller, and the sentence. --json: the explain object (docs/stacctl.md).
 *
 * I/O: one D-Bus call (stacd-client.ts). Tests: stacctl.test.ts, test/integration/stacd-daemon.test.ts
 */
import { STAC_API, STAC_INTERFACE } from '@stas/common/dbus/stac-api';
import type { ExplainJson } from '../dbus/controller-dicts.js';
import { withStacd } from './stacd-client.js';
import { renderTable } from './table.js';
import { parseVerbFlags, type CliContext, type StacctlVerb } from './verb.js';

export const EXPLAIN_USAGE = `usage: stacctl explain [--json]

Show what stacd decides for every controller it wants or the kernel has, and why: connect, adopt,
keep, disconnect or skip, with a reason code and a sentence. Nothing is changed.

options:
      --json       JSON output (schema: packages/stacd/docs/stacctl.md)
  -h, --help       print this help`;

function controller(a: ExplainJson['actions'][number]): string {
  if (a.transport === '') return a.key;
  const host = a.traddr.includes(':') ? `[${a.traddr}]` : a.traddr;
  const port = a.trsvcid === '' ? '' : `:${a.trsvcid}`;
  const iface = a['host-iface'] === '' ? '' : ` via ${a['host-iface']}`;
  return `${a.transport} ${host}${port} ${a.subsysnqn}${iface}`;
}

/** The human rendering of an explain object. */
export function renderExplain(plan: ExplainJson): string {
  const s = plan.stafd;
  const pages = s.pages.map((p) => p.state);
  const stafd =
    s.state === 'answered'
      ? `answered: ${s.pages.length} DC(s)${pages.length > 0 ? ` (${pages.join(', ')})` : ''}`
      : `${s.state}${s.detail === '' ? '' : ` (${s.detail})`}: nothing is disconnected for want of information`;
  const p = plan.policy;
  const lines = [
    `plan:   ${plan.time}${plan.fresh ? '' : ' (last round; a fresh plan failed)'}${plan['dry-run'] ? ' [dry run]' : ''}`,
    `stafd:  ${stafd}`,
    `policy: disconnect-scope=${p['disconnect-scope']} disconnect-trtypes=${p['disconnect-trtypes'].join('+')} ip-family=${p['ip-family']}${p['ignore-iface'] ? ' ignore-iface' : ''} connect-attempts-on-ncc=${p['connect-attempts-on-ncc']}`,
    '',
  ];
  const table = renderTable(
    ['ACTION', 'REASON', 'DEVICE', 'CONTROLLER', 'WHY'],
    plan.actions.map((a) => [a.action, a.reason, a.device, controller(a), a.detail]),
  );
  return `${lines.join('\n')}\n${plan.actions.length === 0 ? 'nothing to decide: no controller wanted or present\n' : table}`;
}

export const explainVerb: StacctlVerb = {
  name: 'explain',
  summary: 'show the decision and its reason for every controller',
  run: async (argv, ctx: CliContext) => {
    const parsed = parseVerbFlags(argv, ctx, { name: 'explain', usage: EXPLAIN_USAGE });
    if (typeof parsed === 'number') return parsed;
    return withStacd(ctx, async (bus) => {
      const text = await bus.callMethod(STAC_API, STAC_INTERFACE, 'explain', {});
      const plan = JSON.parse(text) as ExplainJson;
      ctx.out(parsed.json ? `${JSON.stringify(plan, null, 2)}\n` : renderExplain(plan));
      return 0;
    });
  },
};
