// Option parsers shared by CLI commands.

/** `--groups a,b` (repeatable): every comma-separated name, trimmed, in order. */
export function groupList(raw: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...raw
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
  ];
}
