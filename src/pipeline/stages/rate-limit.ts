// Stage: the per-identity tools/call budget (token bucket), so a looping agent cannot run up a
// bill or starve others. Counted per gateway instance (docs/operations.md).
import { refuse, type Stage } from '../call.js';

export const rateLimit: Stage = {
  name: 'rate-limit',
  run(kit, call) {
    const limiter = kit.deps.rateLimiter;
    if (!limiter || limiter.take(`${call.ctx.identity.issuer}\u0000${call.ctx.identity.subject}`)) return;
    const msg = `too many tool calls from ${call.ctx.identity.email ?? call.ctx.identity.subject}: the per-identity budget is spent; retry in a few seconds (rule rate-limit)`;
    return refuse(kit, call, { message: msg, rule: 'rate-limit', code: 'rate_limited' });
  },
};
