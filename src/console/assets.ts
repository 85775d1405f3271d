// Static assets of the console: its stylesheet, its one small script (draws the time series
// with uPlot from JSON embedded in the page), and uPlot itself served from node_modules. No
// build step; the Content-Security-Policy allows scripts and styles from this origin only.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const CONSOLE_BASE = '/console';

export const CONSOLE_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1c2330;background:#f4f5f7}
header{background:#14213d;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:center}
header a{color:#fff;text-decoration:none}header nav a{margin-right:1rem;opacity:.85}header .who{margin-left:auto}
header button{font:inherit;background:none;border:1px solid #fff5;color:#fff;padding:.15rem .6rem;cursor:pointer}
main{max-width:84rem;margin:1rem auto;padding:0 1rem}
h1{font-size:1.35rem;margin:.4rem 0 1rem}h2{font-size:1.05rem;margin:0 0 .6rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.7rem;margin-bottom:1rem}
.tile{background:#fff;border:1px solid #dfe3ea;padding:.6rem .8rem;text-decoration:none;color:inherit;display:block}
.tile:hover{border-color:#14213d}.tile .n{font-size:1.5rem;font-weight:650}.tile .l{color:#5a6478;font-size:.8rem;text-transform:uppercase}
.tile.warn .n{color:#a1221b}.tile.ok .n{color:#176b2c}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:1rem}@media(max-width:900px){.cols{grid-template-columns:1fr}}
.card{background:#fff;border:1px solid #dfe3ea;padding:.8rem 1rem;margin-bottom:1rem;overflow:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eceef2;vertical-align:top}
th{color:#5a6478;font-weight:600;font-size:.8rem;text-transform:uppercase}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
svg.bar rect{fill:#4a6fa5}svg.bar rect.deny{fill:#c0392b}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;background:#fff;border:1px solid #dfe3ea;padding:.6rem .8rem;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.75rem;color:#5a6478}
form.filters input,form.filters select{font:inherit;padding:.2rem .3rem;min-width:9rem}
form.filters button{font:inherit;padding:.3rem .9rem}
pre{background:#0f1522;color:#e8ecf3;padding:.7rem;overflow:auto;white-space:pre-wrap;word-break:break-word;margin:.3rem 0}
dl{display:grid;grid-template-columns:11rem 1fr;gap:.2rem 1rem;margin:0}dt{color:#5a6478}dd{margin:0;word-break:break-word}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.78rem;font-weight:600;background:#e6e9ef}
.badge.deny,.badge.bad{background:#fbe3e1;color:#8c1d16}.badge.mask{background:#fff1d6;color:#7a4b00}
.badge.allow,.badge.good{background:#e3f4e8;color:#176b2c}.badge.approval_required{background:#e5ecfa;color:#23408e}
.flash{padding:.6rem 1rem;margin-bottom:1rem;border:1px solid #f1a49c;background:#fdecea}
.ok{color:#176b2c}.bad{color:#a1221b}.muted{color:#6b7385}
.replay .ev{border-left:3px solid #4a6fa5;padding:.3rem .8rem;margin:.6rem 0;background:#fff}
.replay .ev.deny{border-color:#c0392b}.replay .ev.mask{border-color:#d68910}
.pager{margin:.6rem 0}.pager a{margin-right:1rem}
#chart{min-height:240px}
textarea{width:100%;box-sizing:border-box;font:inherit}
`;

export const CONSOLE_JS = `
(function () {
  var el = document.getElementById('series-data');
  var box = document.getElementById('chart');
  if (!el || !box || typeof uPlot === 'undefined') return;
  var s = JSON.parse(el.textContent);
  if (!s.t.length) return;
  var opts = {
    width: Math.max(320, box.clientWidth - 8),
    height: 240,
    series: [
      {},
      { label: 'calls', stroke: '#4a6fa5', width: 2 },
      { label: 'denied', stroke: '#c0392b', width: 2 },
      { label: 'masked', stroke: '#d68910', width: 2 }
    ],
    axes: [{}, { label: 'events per ' + s.bucket }]
  };
  new uPlot(opts, [s.t, s.calls, s.denied, s.masked], box);
  box.setAttribute('data-ready', '1');
})();
`;

const require = createRequire(import.meta.url);
let uplot: { js: string; css: string } | null = null;

/** uPlot's browser build, read once from node_modules. */
export function uplotAssets(): { js: string; css: string } {
  if (!uplot) {
    const dist = join(dirname(require.resolve('uplot/package.json')), 'dist');
    uplot = { js: readFileSync(join(dist, 'uPlot.iife.min.js'), 'utf8'), css: readFileSync(join(dist, 'uPlot.min.css'), 'utf8') };
  }
  return uplot;
}
