/**
 * The D-Bus API of stacd, as data (behaviour spec §2.1): bus name, object path, error-name prefix and the
 * two interfaces with their members, argument names and signatures. dbus/org.nvmexpress.stac.xml is the
 * source of truth; api.test.ts checks that this mirror matches it member by member. stacd exports these,
 * stacctl calls them; nobody spells these names as string literals elsewhere.
 *
 * Pure data and types. Tests: api.test.ts
 */
import { DEBUG_MEMBERS } from './api-shared.js';
import type { InterfaceSpec, ServiceApi } from './interface-spec.js';

export const STAC_BUS_NAME = 'org.nvmexpress.stac';
export const STAC_OBJECT_PATH = '/org/nvmexpress/stac';
/** stacd's error names are `org.nvmexpress.stac.Error.<Kind>` (kinds: bus-error.ts SERVICE_ERROR_KINDS). */
export const STAC_ERROR_PREFIX = 'org.nvmexpress.stac.Error';

/** `org.nvmexpress.stac`: the I/O controllers stacd manages. */
export const STAC_INTERFACE = {
  name: 'org.nvmexpress.stac',
  methods: {
    list_controllers: {
      in: [{ name: 'detailed', type: 'b' }],
      out: [{ name: 'controller_list', type: 'aa{ss}' }],
    },
    /**
     * stas extension (read-only): the planner's decision and reason for every wanted or existing I/O
     * controller, as JSON (schema: packages/stacd/docs/stacctl.md, `stacctl explain --json`).
     */
    explain: {
      in: [],
      out: [{ name: 'plan_json', type: 's' }],
    },
  },
  properties: {},
  signals: {},
} as const satisfies InterfaceSpec;

/** `org.nvmexpress.stac.debug`: tron, log_level, process_info, controller_info. */
export const STAC_DEBUG_INTERFACE = {
  name: 'org.nvmexpress.stac.debug',
  ...DEBUG_MEMBERS,
} as const satisfies InterfaceSpec;

export const STAC_API = {
  busName: STAC_BUS_NAME,
  objectPath: STAC_OBJECT_PATH,
  errorPrefix: STAC_ERROR_PREFIX,
  interfaces: [STAC_INTERFACE, STAC_DEBUG_INTERFACE],
} as const satisfies ServiceApi;

export type StacInterface = typeof STAC_INTERFACE;
export type StacDebugInterface = typeof STAC_DEBUG_INTERFACE;
