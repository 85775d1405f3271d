// JSON that keeps the exact text of numbers a JS double cannot hold.
//
// Why: BigQuery INT64 and SQLite INTEGER values above 2^53 (16+ digit card numbers stored as
// integers, 19-digit ids) are rounded by JSON.parse. A rounded card number fails the Luhn check,
// so a detector would miss it while the client — which receives the re-serialised text — would
// still see digits close to the real ones. Keeping the lexeme makes detection exact and keeps
// unmasked values byte-identical.
import { BqwardenError } from '../common/errors.js';

/** A JSON number whose text does not survive a round trip through a double. */
export class RawNumber {
  constructor(readonly raw: string) {}
}

export type Json = null | boolean | number | string | RawNumber | Json[] | { [k: string]: Json };

/** A run of 16 digits may not fit a double exactly; only then is the slow parser needed. */
class JsonSyntaxError extends BqwardenError {
  constructor(message: string) {
    super('json_syntax', message);
  }
}

/** True when parseJson may have produced RawNumber values for this text. */
export function mayHoldRaw(text: string): boolean {
  // A plain loop: this runs on every text item of every result, and beats the regex by ~4×.
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (++run >= 16) return true;
    } else run = 0;
  }
  return false;
}

/** Parses JSON text; numbers that would lose precision become RawNumber. Throws JsonSyntaxError. */
export function parseJson(text: string): Json {
  if (!mayHoldRaw(text)) {
    try {
      return JSON.parse(text) as Json;
    } catch (e) {
      throw new JsonSyntaxError((e as Error).message);
    }
  }
  return new LosslessParser(text).parseDocument();
}

/** Serialises a value from parseJson (RawNumber written verbatim). */
export function stringifyJson(value: Json, mayHoldRaw = true): string {
  if (!mayHoldRaw || !containsRaw(value)) return JSON.stringify(value);
  return write(value);
}

/** A JSON object: not an array, not a RawNumber. */
export function isJsonObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof RawNumber);
}

/** Text an upstream sent: its JSON value when it is JSON, else undefined (free text, a table). */
export function parseJsonIfAny(text: string): Json | undefined {
  // Cheap first-character test: most text that is not JSON never reaches the parser.
  const first = text.trimStart().charAt(0);
  if (first === '' || !'{["-0123456789tfn'.includes(first)) return undefined;
  try {
    return parseJson(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return undefined;
    throw e;
  }
}

/** Values handed over as objects (structuredContent, _meta) go through JSON: no functions, no prototypes. */
export function toJson(v: unknown): Json {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))) as Json;
}

function containsRaw(v: Json): boolean {
  if (v instanceof RawNumber) return true;
  if (Array.isArray(v)) return v.some(containsRaw);
  if (v !== null && typeof v === 'object') return Object.values(v).some(containsRaw);
  return false;
}

function write(v: Json): string {
  if (v instanceof RawNumber) return v.raw;
  if (Array.isArray(v)) return '[' + v.map(write).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    return (
      '{' +
      Object.entries(v)
        .map(([k, x]) => JSON.stringify(k) + ':' + write(x))
        .join(',') +
      '}'
    );
  }
  return JSON.stringify(v);
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class LosslessParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseDocument(): Json {
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected trailing characters');
    return v;
  }

  private fail(msg: string): never {
    throw new JsonSyntaxError(`${msg} at position ${this.i}`);
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  private value(): Json {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === 't' && this.s.startsWith('true', this.i)) return ((this.i += 4), true);
    if (c === 'f' && this.s.startsWith('false', this.i)) return ((this.i += 5), false);
    if (c === 'n' && this.s.startsWith('null', this.i)) return ((this.i += 4), null);
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) this.fail('unexpected token');
    this.i += m[0].length;
    const n = Number(m[0]);
    return String(n) === m[0] ? n : new RawNumber(m[0]);
  }

  private object(): Json {
    this.i++;
    const out: { [k: string]: Json } = {};
    this.ws();
    if (this.s[this.i] === '}') return (this.i++, out);
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected string key');
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      // defineProperty: a "__proto__" key must stay data, as JSON.parse keeps it.
      Object.defineProperty(out, k, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }

  private array(): Json {
    this.i++;
    const out: Json[] = [];
    this.ws();
    if (this.s[this.i] === ']') return (this.i++, out);
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }

  private string(): string {
    // Find the closing quote, then let JSON.parse handle escapes exactly.
    const start = this.i;
    let j = start + 1;
    const s = this.s;
    for (;;) {
      if (j >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(j);
      if (c === 0x22) break;
      if (c === 0x5c) j += 2;
      else j++;
    }
    this.i = j + 1;
    try {
      return JSON.parse(s.slice(start, j + 1)) as string;
    } catch (e) {
      this.fail((e as Error).message);
    }
  }
}
