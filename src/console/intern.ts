// String interning and growable typed columns: the console keeps one small number per event
// field instead of the event object, so a million events fit in tens of megabytes and a
// filtered scan over them is a tight loop over typed arrays.

/** Maps strings to dense ids; id 0 is reserved for null/empty. */
export class Interner {
  private readonly ids = new Map<string, number>();
  readonly values: (string | null)[] = [null];

  id(value: string | null | undefined): number {
    if (value === null || value === undefined || value === '') return 0;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.ids.set(value, id);
    }
    return id;
  }

  /** The id of a value already seen, else -1 (a filter on an unknown value matches nothing). */
  find(value: string): number {
    return this.ids.get(value) ?? -1;
  }

  get(id: number): string | null {
    return this.values[id] ?? null;
  }

  get size(): number {
    return this.values.length;
  }
}

type TypedArray = Float64Array | Uint32Array | Uint16Array | Uint8Array;
type Ctor<T extends TypedArray> = { new (n: number): T };

/**
 * An append-only typed array that doubles when full. A row never set reads as 0 (typed arrays
 * start zeroed; id 0 is "none"), past the end too: at() says so to the type checker.
 */
export class Column<T extends TypedArray> {
  data: T;
  constructor(
    private readonly ctor: Ctor<T>,
    initial = 1024,
  ) {
    this.data = new ctor(initial);
  }
  at(i: number): number {
    return this.data[i] ?? 0;
  }
  set(i: number, v: number): void {
    if (i >= this.data.length) {
      let n = this.data.length;
      while (n <= i) n *= 2;
      const next = new this.ctor(n);
      next.set(this.data as never);
      this.data = next;
    }
    this.data[i] = v;
  }
}
