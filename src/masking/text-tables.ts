// Results some upstreams print as text: markdown pipe tables and CSV/TSV. We only need the
// header (to map column names) and the cells (to mask them), then print it back the same way.

export interface TextTable {
  header: string[];
  rows: string[][];
  render(rows: string[][]): string;
}

export function parseTextTable(text: string): TextTable | null {
  return parseMarkdown(text) ?? parseDelimited(text);
}

function splitPipes(line: string): string[] {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim());
}

function parseMarkdown(text: string): TextTable | null {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const [headLine, ruleLine, ...body] = lines;
  if (headLine === undefined || ruleLine === undefined || !lines.every((l) => l.trim().startsWith('|'))) return null;
  const sep = ruleLine.trim();
  if (!/^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$/.test(sep)) return null;
  const header = splitPipes(headLine);
  const rows = body.map(splitPipes);
  if (rows.some((r) => r.length !== header.length)) return null;
  return {
    header,
    rows,
    render: (out) => [fmt(header), sep, ...out.map(fmt)].join('\n'),
  };
  function fmt(cells: string[]): string {
    return '| ' + cells.map((c) => c.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')).join(' | ') + ' |';
  }
}

/** RFC 4180 records (quoted fields may hold delimiters, quotes and newlines). */
function records(text: string, delim: string): string[][] | null {
  const out: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === delim) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      out.push(row);
      row = [];
      field = '';
    } else field += c;
    i++;
  }
  if (quoted) return null;
  if (field !== '' || row.length > 0) {
    row.push(field);
    out.push(row);
  }
  return out.filter((r) => !(r.length === 1 && r[0]?.trim() === ''));
}

function parseDelimited(text: string): TextTable | null {
  const first = text.split(/\r?\n/, 1)[0] ?? '';
  const delim = first.includes('\t') ? '\t' : first.includes(',') ? ',' : null;
  if (!delim) return null;
  const recs = records(text, delim);
  const [head, ...body] = recs ?? [];
  if (!head) return null;
  const width = head.length;
  if (width < 2 || body.some((r) => r.length !== width)) return null;
  const header = head.map((h) => h.trim());
  return {
    header,
    rows: body,
    render: (out) => [head, ...out].map((r) => r.map((c) => quote(c, delim)).join(delim)).join('\n'),
  };
}

function quote(c: string, delim: string): string {
  return c.includes(delim) || c.includes('"') || c.includes('\n') || c.includes('\r') ? '"' + c.replace(/"/g, '""') + '"' : c;
}
