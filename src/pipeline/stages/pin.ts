// Stage: the called tool's upstream definition must still be the one pinned for it (tool
// poisoning, rug pulls; src/pins). A changed definition is refused until an approver accepts
// it; a tool the upstream does not list, or a pin store that cannot be read, is refused too.
import { refuse, type Stage } from '../call.js';
import type { Forward } from '../types.js';

const MAX_PAGES = 50;

/** The upstream's whole tools/list, page by page, on the caller's upstream session. */
async function listTools(forward: Forward): Promise<Record<string, unknown>[]> {
  const tools: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await forward(cursor === undefined ? {} : { cursor }, 'tools/list');
    if (Array.isArray(r.tools)) tools.push(...(r.tools as Record<string, unknown>[]));
    cursor = typeof r.nextCursor === 'string' && r.nextCursor ? r.nextCursor : undefined;
    if (cursor === undefined) return tools;
  }
  throw new Error(`the upstream's tools/list did not end within ${MAX_PAGES} pages`);
}

export const pin: Stage = {
  name: 'pin',
  async run(kit, call) {
    const pins = kit.deps.pins;
    if (!pins) return;
    let verdict;
    try {
      verdict = await pins.onCall(call.tool, call.ctx, call.roles, () => listTools(call.forward));
    } catch (err) {
      const msg = `the definition of tool ${call.tool} could not be checked against its pin, so the call is refused (rule tool-pinning, fail closed); send the call again in a moment`;
      return refuse(kit, call, { message: msg, rule: 'tool-pinning', code: 'tool_pins_unavailable', outcome: 'error', cause: err });
    }
    if (verdict.status === 'pinned') return;
    return refuse(kit, call, {
      message: verdict.message,
      rule: 'tool-pinning',
      code: verdict.status === 'changed' ? 'tool_definition_changed' : 'tool_not_listed',
      ...(verdict.status === 'changed' ? { fields: { approval_id: verdict.approvalId } } : {}),
    });
  },
};
