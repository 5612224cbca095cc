/**
 * Test-only heap measurement: a real garbage collection before reading heapUsed, so memory-bound
 * assertions (fuzz tests) measure what is retained, not garbage that has not been collected yet.
 *
 * Enables V8's `gc` function at run time (node:v8 setFlagsFromString + node:vm), which vitest does not
 * expose. Never imported by daemon code.
 *
 * Used by: nvme/wire/wire.prop.test.ts
 * Tests:   exercised there.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collect garbage, then return the bytes of live heap. */
export function retainedHeapBytes(): number {
  gc();
  return process.memoryUsage().heapUsed;
}
