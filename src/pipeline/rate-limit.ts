// Per-identity budget for tools/call: an agent stuck in a loop must not be able to run up a
// BigQuery bill or starve other users. A token bucket per subject (issuer + sub), refilled
// continuously; idle buckets are forgotten so memory stays bounded by active callers.
export interface RateLimiter {
  /** True when the caller may make one more call now (and spends it). */
  take(key: string): boolean;
}

export function createRateLimiter(opts: { perMinute: number; burst: number; now?: () => number }): RateLimiter {
  const now = opts.now ?? Date.now;
  const ratePerMs = opts.perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  return {
    take(key) {
      if (opts.perMinute <= 0) return true;
      const t = now();
      if (t - lastSweep > 60_000) {
        // A bucket idle long enough to be full again carries no state worth keeping.
        for (const [k, b] of buckets) if (b.tokens + (t - b.at) * ratePerMs >= opts.burst) buckets.delete(k);
        lastSweep = t;
      }
      const b = buckets.get(key) ?? { tokens: opts.burst, at: t };
      b.tokens = Math.min(opts.burst, b.tokens + (t - b.at) * ratePerMs);
      b.at = t;
      buckets.set(key, b);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      return true;
    },
  };
}
