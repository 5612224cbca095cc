/**
 * Pieces shared by the two D-Bus API mirrors (staf-api.ts, stac-api.ts), behaviour spec §2: the seven
 * strings that name a controller in method and signal arguments, the debug interface members (identical
 * for stafd and stacd), and the names of the keys of the dictionaries and JSON objects the methods return
 * (so that daemons and CLIs share one spelling).
 *
 * Pure data and types. Tests: api.test.ts (against dbus/*.xml)
 */
import type { ArgsObject, ArgSpec } from './interface-spec.js';

/** The controller-naming arguments of controller_info, get_log_pages and log_pages_changed, in wire order. */
export const TID_ARGS = [
  { name: 'transport', type: 's' },
  { name: 'traddr', type: 's' },
  { name: 'trsvcid', type: 's' },
  { name: 'subsysnqn', type: 's' },
  { name: 'host_traddr', type: 's' },
  { name: 'host_iface', type: 's' },
  { name: 'host_nqn', type: 's' },
] as const satisfies readonly ArgSpec[];

/** `{ transport, traddr, trsvcid, subsysnqn, host_traddr, host_iface, host_nqn }`, all strings. */
export type TidArgs = ArgsObject<typeof TID_ARGS>;

/** Members of `org.nvmexpress.staf.debug` and `org.nvmexpress.stac.debug` (spec §2.1). */
export const DEBUG_MEMBERS = {
  methods: {
    process_info: { in: [], out: [{ name: 'info_json', type: 's' }] },
    controller_info: { in: TID_ARGS, out: [{ name: 'info_json', type: 's' }] },
  },
  properties: {
    /** Read-write: debug logging on/off. Only root may Set it (bus policy). */
    tron: { type: 'b', access: 'readwrite' },
    /** Read-only: `DEBUG` or `INFO`. Changes with tron (PropertiesChanged carries both). */
    log_level: { type: 's', access: 'read' },
  },
  signals: {},
} as const;

/** Values of the `log_level` property and of process_info's `log-level`. */
export const LOG_LEVEL_NAMES = ['DEBUG', 'INFO'] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

/** Every value in an `aa{ss}` result is a string. */
export type StringDict = Record<string, string>;
/** Controller-ID dict: list_controllers(false), the discovery-controller item of get_all_log_pages(false). */
export type ControllerIdDict = StringDict;
/** Info dict (controller_info JSON): controller-ID dict plus connection state. */
export type ControllerInfoDict = StringDict;
/** Details dict (list_controllers(true), get_all_log_pages(true)): info dict plus sysfs attributes. */
export type ControllerDetailsDict = StringDict;
/** One cached discovery log page entry (DLPE); every value a string. */
export type LogPageEntryDict = StringDict;

/** Keys of the controller-ID dict, in insertion order (TID-cfg keys such as `kato` go before host-nqn). */
export const CONTROLLER_ID_KEYS = [
  'traddr',
  'trsvcid',
  'transport',
  'subsysnqn',
  'host-iface',
  'host-traddr',
  'host-nqn',
  'device',
] as const;

/** `device` value of a controller that has no kernel device. */
export const DEVICE_NOT_CONNECTED = 'nvme?';

/** Keys the info dict adds to the controller-ID dict (the DC-only ones only for DCs). */
export const CONTROLLER_INFO_KEYS = [
  'connect attempts',
  'retry connect timer',
  'connect operation',
  'origin',
  'unresponsive timer',
  'unresponsive timeout',
  'unresponsive time',
  'get log page operation',
  'register operation',
  'get supported log page operation',
] as const;

/** Keys the details dict adds to the info dict (`dlpe`, `dlpe.eflags.ncc`: I/O controllers only). */
export const CONTROLLER_DETAIL_KEYS = [
  'hostid',
  'hostnqn',
  'model',
  'serial',
  'dctype',
  'cntrltype',
  'connected',
  'dlpe',
  'dlpe.eflags.ncc',
] as const;

/** Keys of a cached log page entry. */
export const LOG_PAGE_ENTRY_KEYS = [
  'trtype',
  'adrfam',
  'traddr',
  'trsvcid',
  'subnqn',
  'subtype',
  'treq',
  'tsas',
  'portid',
  'cntlid',
  'asqsz',
  'eflags',
] as const;

/** Keys of each element of get_all_log_pages' JSON list. */
export const ALL_LOG_PAGES_KEYS = { controller: 'discovery-controller', logPages: 'log-pages' } as const;

/** One element of get_all_log_pages' JSON list. */
export interface DcLogPages {
  readonly 'discovery-controller': ControllerIdDict;
  readonly 'log-pages': readonly LogPageEntryDict[];
}
export type AllLogPagesJson = readonly DcLogPages[];

/** Fixed keys of process_info's JSON object (more: `terminator.controller.<tid>`, stafd's `avahi`). */
export const PROCESS_INFO_KEYS = [
  'tron',
  'log-level',
  'hostnqn',
  'hostid',
  'hostkey',
  'symname',
  'last known config file',
  'config soak timer',
  'kernel support.TP8013',
  'kernel support.host_iface',
  'terminator.audit timer',
] as const;

/** process_info's JSON object. */
export type ProcessInfoJson = Readonly<Record<string, unknown>> & {
  readonly tron: boolean;
  readonly 'log-level': LogLevelName;
};

/**
 * Keys whose values are secrets (spec §9 F12): the daemons replace them by a redaction marker in every
 * reply to a caller whose uid is not 0 (process_info, controller_info, list_controllers, get_all_log_pages).
 */
export const SECRET_KEYS = ['hostkey', 'dhchap-secret', 'dhchap-ctrl-secret'] as const;
