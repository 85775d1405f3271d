// What the benchmarks share for reading their inputs and samples: a quantile, and list items
// that must exist (a benchmark that runs on a missing input measures nothing, so it stops).

/** The p-quantile (0..1) of samples sorted ascending; NaN when there are none. */
export function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** xs[i], or a thrown error naming the index when there is no such item. */
export function nth<T>(xs: readonly T[], i: number): T {
  const x = xs[i];
  if (x === undefined) throw new Error(`benchmark input: no item ${i} among ${xs.length}`);
  return x;
}

/** xs[i % xs.length]: inputs taken round-robin. */
export function cyclic<T>(xs: readonly T[], i: number): T {
  return nth(xs, i % xs.length);
}
