/**
 * The D-Bus API of stafd, as data (behaviour spec §2.1): bus name, object path, error-name prefix and the
 * two interfaces with their members, argument names and signatures. dbus/org.nvmexpress.staf.xml is the
 * source of truth; api.test.ts checks that this mirror matches it member by member. stafd exports these,
 * stafctl and stacd call them; nobody spells these names as string literals elsewhere.
 *
 * Pure data and types. Tests: api.test.ts
 */
import { DEBUG_MEMBERS, TID_ARGS } from './api-shared.js';
import type { InterfaceSpec, ServiceApi } from './interface-spec.js';

export const STAF_BUS_NAME = 'org.nvmexpress.staf';
export const STAF_OBJECT_PATH = '/org/nvmexpress/staf';
/** stafd's error names are `org.nvmexpress.staf.Error.<Kind>` (kinds: bus-error.ts SERVICE_ERROR_KINDS). */
export const STAF_ERROR_PREFIX = 'org.nvmexpress.staf.Error';

/** `org.nvmexpress.staf`: discovery controllers and their cached log pages. */
export const STAF_INTERFACE = {
  name: 'org.nvmexpress.staf',
  methods: {
    list_controllers: {
      in: [{ name: 'detailed', type: 'b' }],
      out: [{ name: 'controller_list', type: 'aa{ss}' }],
    },
    get_log_pages: {
      in: TID_ARGS,
      out: [{ name: 'log_pages', type: 'aa{ss}' }],
    },
    get_all_log_pages: {
      in: [{ name: 'detailed', type: 'b' }],
      out: [{ name: 'log_pages_json', type: 's' }],
    },
  },
  properties: {},
  signals: {
    log_pages_changed: { args: [...TID_ARGS, { name: 'device', type: 's' }] },
    dc_removed: { args: [] },
  },
} as const satisfies InterfaceSpec;

/** `org.nvmexpress.staf.debug`: tron, log_level, process_info, controller_info. */
export const STAF_DEBUG_INTERFACE = {
  name: 'org.nvmexpress.staf.debug',
  ...DEBUG_MEMBERS,
} as const satisfies InterfaceSpec;

export const STAF_API = {
  busName: STAF_BUS_NAME,
  objectPath: STAF_OBJECT_PATH,
  errorPrefix: STAF_ERROR_PREFIX,
  interfaces: [STAF_INTERFACE, STAF_DEBUG_INTERFACE],
} as const satisfies ServiceApi;

export type StafInterface = typeof STAF_INTERFACE;
export type StafDebugInterface = typeof STAF_DEBUG_INTERFACE;
