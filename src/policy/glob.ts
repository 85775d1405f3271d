// Wildcards used across policy files. Compiled once at load time to RegExps so a decision
// never parses patterns on the request path.

function escapeRegExp(s: string): string {
  return s.replace(/[|\\{}()[\]^$+?.]/g, '\\$&');
}

/**
 * Dotted names (tables, columns): `*` stays inside one segment, `**` spans segments, so
 * `demo.main.*` covers demo.main.customers but not demo.main.x.y, and `*.bank.customers`
 * covers any project's bank.customers.
 */
function dottedBody(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    if (ch === '*') {
      if (pattern.charAt(i + 1) === '*') {
        out += '.*';
        i++;
      } else out += '[^.]*';
    } else out += escapeRegExp(ch);
  }
  return out;
}

export function tableMatcher(pattern: string, caseInsensitive: boolean): RegExp {
  return new RegExp(`^${dottedBody(pattern)}$`, caseInsensitive ? 'i' : '');
}

/** Column keys: anchored at the end only, so `*.ssn` or `customers.ssn` need not spell the project. */
export function columnMatcher(pattern: string): RegExp {
  return new RegExp(`^(?:.*\\.)?${dottedBody(pattern)}$`, 'i');
}

/** Free-form names (tools, methods, classifications, kinds, policy tags): `*` matches anything. */
export function nameMatcher(pattern: string, caseInsensitive = false): RegExp {
  const body = pattern.split('*').map(escapeRegExp).join('.*');
  return new RegExp(`^${body}$`, caseInsensitive ? 'i' : '');
}

export function anyMatch(res: RegExp[], s: string): boolean {
  for (const re of res) if (re.test(s)) return true;
  return false;
}

/** Levenshtein distance, for "did you mean" hints. */
export function closest(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function distance(a: string, b: string): number {
  // prev holds b.length + 1 entries and every index below is in 0..b.length.
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(tmp + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
