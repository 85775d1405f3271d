// The real demo stack with a recording proxy between the gateway and MCP Toolbox, so attacks
// can be judged by what actually reached the upstream, not only by what the client saw.
import { startStack, type StackOptions, type TestStack } from '../helpers/gateway.js';
import { startRecordingProxy, type RecordingProxy } from './helpers.js';

export interface RecordedStack {
  stack: TestStack;
  proxy: RecordingProxy;
  /** Bodies of upstream requests recorded since `mark` (an index into proxy.requests). */
  upstreamBodiesSince(mark: number): string[];
  stop(): Promise<void>;
}

export async function startRecordedStack(opts: StackOptions = {}): Promise<RecordedStack> {
  let stack: TestStack | null = null;
  // The gateway contacts the upstream only when a session starts, by which time stack is set.
  const proxy = await startRecordingProxy(() => {
    if (!stack) throw new Error('stack not started yet');
    return stack.toolbox.url;
  });
  const config = { ...(opts.config ?? {}), upstream: { ...((opts.config?.upstream as object) ?? {}), url: proxy.url } };
  stack = await startStack({ ...opts, config });
  const s = stack;
  return {
    stack: s,
    proxy,
    upstreamBodiesSince: (mark) => proxy.requests.slice(mark).map((r) => r.body),
    async stop() {
      await s.stop();
      await proxy.close();
    },
  };
}
