// The response to one client HTTP request, written straight to the socket. A POST that carries
// requests is answered with plain JSON when its one answer is all there is to send, and with an
// event stream as soon as something has to go out before the answer (progress, upstream logs,
// a sampling request), when the upstream itself answered with a stream (mirrored, so clients
// see what they would see without the gateway), or for a batch.
import type { ServerResponse } from 'node:http';
import { sseMessage } from './sse.js';

type Mode = 'idle' | 'json' | 'sse' | 'done';

export class Downstream {
  private mode: Mode = 'idle';
  /** Answer with an event stream even if nothing precedes the answer. */
  preferSse: boolean;

  /**
   * @param owed answers this response must carry before it ends (the requests in the POST);
   *   Infinity for the standalone GET stream, which ends only when closed.
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly sessionId: string,
    private owed: number,
    opts: { sse?: boolean } = {},
  ) {
    this.preferSse = opts.sse ?? false;
  }

  /** False once the client went away or everything was sent. */
  get writable(): boolean {
    return this.mode !== 'done' && !this.res.destroyed && !this.res.writableEnded;
  }

  private startSse(): boolean {
    if (this.mode === 'sse') return true;
    if (this.mode !== 'idle' || !this.writable) return false;
    this.mode = 'sse';
    this.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'mcp-session-id': this.sessionId,
    });
    this.res.flushHeaders();
    return true;
  }

  /** Opens the event stream now (the GET stream, so the client sees it is established). */
  open(): boolean {
    return this.startSse();
  }

  /** A message that precedes the answer (notification, server→client request); the text is sent untouched. */
  event(json: string): boolean {
    if (!this.startSse()) return false;
    this.res.write(sseMessage(json));
    return true;
  }

  /** One of the answers this response owes. */
  answer(json: string): void {
    if (!this.writable) return;
    if (this.mode === 'idle' && !this.preferSse && this.owed === 1) {
      this.mode = 'done';
      this.res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': this.sessionId });
      this.res.end(json);
      return;
    }
    if (!this.startSse()) return;
    this.res.write(sseMessage(json));
    this.settleOne();
  }

  /** An answer that will not be sent (the request was cancelled: the spec says no response). */
  skip(): void {
    if (!this.writable) return;
    this.startSse();
    this.settleOne();
  }

  private settleOne(): void {
    if (--this.owed <= 0) this.close();
  }

  /** Ends the response (stream end); a response never started is closed with an empty stream. */
  close(): void {
    if (this.mode === 'done') return;
    if (this.mode === 'idle' && this.writable) this.startSse();
    this.mode = 'done';
    if (!this.res.writableEnded) this.res.end();
  }
}
