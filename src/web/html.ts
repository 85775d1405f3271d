// HTML escaping for every server-rendered page (approvals, console, sign-in, the demo
// authorization server's login page): anything that came from a request, a token or the audit
// log is attacker-controlled text.
export function esc(value: unknown): string {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
