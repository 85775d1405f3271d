// Typed lookups for tests under noUncheckedIndexedAccess. A test that indexes past what it
// got should fail saying what was missing, not with "Cannot read properties of undefined"
// three lines later; each helper throws an AssertionError naming the thing it looked for.
import assert from 'node:assert/strict';

/** The value, asserted present (not undefined or null); `what` names it in the failure. */
export function present<T>(value: T, what: string): NonNullable<T> {
  assert.ok(value !== undefined && value !== null, `missing: ${what}`);
  return value as NonNullable<T>;
}

/** Element i of a list (negative counts from the end, as Array.prototype.at), asserted present. */
export function at<T>(list: readonly T[], i: number, what: string): NonNullable<T> {
  return present(list.at(i), `${what} [${i}] of ${list.length}`);
}

/** The first element of a list, asserted present. */
export function first<T>(list: readonly T[], what: string): NonNullable<T> {
  return at(list, 0, what);
}

/** The only element of a list: fails unless the list has exactly one. */
export function only<T>(list: readonly T[], what: string): NonNullable<T> {
  assert.equal(list.length, 1, `expected exactly one ${what}, got ${list.length}`);
  return at(list, 0, what);
}
