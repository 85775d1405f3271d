// The floor: a bare Node pass-through HTTP proxy (node:http, keep-alive, streaming both ways)
// in front of the same upstream. Whatever it adds is the cost of one more Node hop, which no
// gateway written in Node can go below. Usage: node bench/lib/proxy-main.mjs <upstreamUrl>
import { Agent, createServer, request } from 'node:http';

const target = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const server = createServer((req, res) => {
  const up = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host }, agent }, (upRes) => {
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}${target.pathname}`, pid: process.pid })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
