// The JSON a metadata tool answers with, one value per text item. Text that is not JSON (an
// error message) yields nothing: the table stays unknown, which fails closed.
export function jsonItems(r: { content: { type: string; text?: string }[] }): unknown[] {
  const out: unknown[] = [];
  for (const c of r.content ?? []) {
    if (c.type !== 'text' || !c.text) continue;
    try {
      out.push(JSON.parse(c.text));
    } catch {
      // not JSON
    }
  }
  return out;
}
