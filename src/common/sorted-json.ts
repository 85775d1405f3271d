// Key-sorted copies of JSON-like values, so two objects with the same members serialise the
// same whatever order they were built in (payload columns, approval argument bindings). The
// audit hash uses the stricter canonical form in src/audit/canonical.ts, which also refuses
// values JSON cannot carry exactly.
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
