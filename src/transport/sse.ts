// Server-Sent Events, both directions: an incremental reader for upstream streams (one event
// at a time, so relayed notifications go out as they arrive) and the framing written to clients.
// Field rules follow the WHATWG event-stream format: "data:" lines join with \n, one optional
// space after the colon, lines starting with ":" are comments, CR, LF and CRLF all end a line.

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/** Feeds decoded text in, calls `onEvent` for every complete event. Keeps only the unfinished tail. */
export class SseReader {
  private buf = '';
  private scanned = 0;
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly onEvent: (e: SseEvent) => void) {}

  push(chunk: Uint8Array | string): void {
    this.buf += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const buf = this.buf;
    let start = 0;
    // A long data line (a large result) arrives in many chunks: resume the search for its end
    // where the last chunk stopped instead of rescanning it.
    let from = this.scanned;
    // CR line endings are rare: look for one once per chunk, and again only after passing it.
    let cr = buf.indexOf('\r', from);
    for (;;) {
      if (cr !== -1 && cr < from) cr = buf.indexOf('\r', from);
      const lf = buf.indexOf('\n', from);
      const nl = cr === -1 ? lf : lf === -1 ? cr : Math.min(lf, cr);
      if (nl === -1) {
        from = buf.length;
        break;
      }
      // A CR at the very end may be the first half of CRLF still in flight.
      if (buf.charCodeAt(nl) === 13 && nl + 1 === buf.length) {
        from = nl;
        break;
      }
      this.line(buf.slice(start, nl));
      start = buf.charCodeAt(nl) === 13 && buf.charCodeAt(nl + 1) === 10 ? nl + 2 : nl + 1;
      from = start;
    }
    this.buf = start === 0 ? buf : buf.slice(start);
    this.scanned = from - start;
  }

  /** End of stream: an event without its closing blank line is dropped, as the format requires. */
  end(): void {
    this.buf += this.decoder.decode();
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.onEvent({ event: this.event || 'message', data: this.data.join('\n'), id: this.id });
      this.data = [];
      this.event = '';
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" comment / keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}

/** One SSE "message" event carrying a JSON-RPC message (the text is written untouched). */
export function sseMessage(json: string): string {
  if (json.indexOf('\n') === -1 && json.indexOf('\r') === -1) return `event: message\ndata: ${json}\n\n`;
  return `event: message\n${json
    .split(/\r\n|\r|\n/)
    .map((l) => `data: ${l}`)
    .join('\n')}\n\n`;
}
