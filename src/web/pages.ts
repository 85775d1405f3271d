// The few pages the sign-in flow itself shows (signed out, sign-in refused, not configured) and
// the stylesheet they share with the demo authorization server's login page. No script.
import { esc } from './html.js';

export const AUTH_BASE = '/auth';

export const AUTH_STYLE = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1c2330;background:#f5f6f8}
header{background:#1c2330;color:#fff;padding:.7rem 1.2rem}
main{max-width:40rem;margin:1.5rem auto;padding:0 1rem}
.card{background:#fff;padding:1rem 1.2rem;margin:0 0 1rem;border:1px solid #e1e4ea}
.flash{padding:.6rem 1rem;margin-bottom:1rem;border:1px solid;background:#fdecea;border-color:#f1a49c}
label{display:block;margin:.6rem 0 .2rem;font-weight:600}
input[type=email],input[type=text],select{width:100%;box-sizing:border-box;font:inherit;padding:.3rem}
fieldset{border:1px solid #e1e4ea;margin:.6rem 0}fieldset label{display:inline-block;font-weight:normal;margin-right:1rem}
button{font:inherit;padding:.4rem 1rem;cursor:pointer}
dl{display:grid;grid-template-columns:9rem 1fr;gap:.2rem .8rem}dt{color:#5a6478}dd{margin:0;word-break:break-all}
`;

export function authPage(title: string, body: string, error: string | null = null): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · bqwarden</title><link rel="icon" href="data:,"><link rel="stylesheet" href="${AUTH_BASE}/style.css"></head>
<body><header><strong>bqwarden</strong></header>
<main>${error ? `<div class="flash" role="alert">${esc(error)}</div>` : ''}<div class="card"><h1>${esc(title)}</h1>${body}</div></main></body></html>`;
}

export function pageLinks(pages: { path: string; label: string }[]): string {
  return `<ul>${pages.map((p) => `<li><a href="${AUTH_BASE}/login?next=${encodeURIComponent(p.path)}">Sign in to the ${esc(p.label)}</a></li>`).join('')}</ul>`;
}
