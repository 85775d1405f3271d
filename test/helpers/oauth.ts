// MCP clients that sign in through the gateway's OAuth flow: an OAuthClientProvider for the
// official SDK (client side of MCP authorization), and a small HTTP user agent that walks the
// demo authorization server's login page the way a browser does — following redirects,
// keeping cookies per host, and sending the Origin header a browser sends on a form post.
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

export class MemoryOAuthProvider implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | null = null;
  readonly tokenHistory: OAuthTokens[] = [];
  constructor(
    readonly redirectUrl: string,
    readonly name = 'bqwarden-oauth-test',
  ) {}
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: this.name, redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
    this.tokenHistory.push(tokens);
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** Cookies per host, as a browser keeps them (enough for the flows under test: name=value, Path, Max-Age=0). */
export class CookieJar {
  private readonly jar = new Map<string, Map<string, { value: string; path: string }>>();
  store(url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';').map((p) => p.trim());
      const i = pair.indexOf('=');
      const name = pair.slice(0, i);
      const value = pair.slice(i + 1);
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
      const expired = attrs.some((a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      const host = this.jar.get(url.host) ?? new Map();
      if (expired || value === '') host.delete(name);
      else host.set(name, { value, path });
      this.jar.set(url.host, host);
    }
  }
  header(url: URL): string {
    const host = this.jar.get(url.host);
    if (!host) return '';
    return [...host.entries()]
      .filter(([, c]) => url.pathname.startsWith(c.path))
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
  }
}

export interface DemoLogin {
  user: string;
  groups: string[];
  actorType?: string;
  /** Press "Deny" instead of signing in. */
  deny?: boolean;
}

/**
 * Follows an authorization URL through the demo login page until the authorization server
 * redirects to `stopAt` (the client's redirect URI); returns that final URL (code and state).
 */
export async function walkDemoLogin(authorizationUrl: URL | string, login: DemoLogin, stopAt: string, jar = new CookieJar()): Promise<URL> {
  let url = new URL(authorizationUrl);
  let method = 'GET';
  let body: string | undefined;
  let origin: string | undefined;
  for (let hop = 0; hop < 20; hop++) {
    if (url.href.startsWith(stopAt)) return url;
    const headers: Record<string, string> = { cookie: jar.header(url), accept: 'text/html' };
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    if (origin) headers.origin = origin;
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    jar.store(url, res.headers);
    method = 'GET';
    body = undefined;
    origin = undefined;
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      url = new URL(location, url);
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`${url.pathname}: HTTP ${res.status}: ${html.slice(0, 500)}`);
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (!action || !csrf) throw new Error(`${url.pathname}: no login form: ${html.slice(0, 500)}`);
    const form = new URLSearchParams({ csrf, user: login.user, actorType: login.actorType ?? 'human' });
    for (const g of login.groups) form.append('groups', g);
    if (login.deny) form.set('deny', '1');
    const next = new URL(action.replace(/&amp;/g, '&'), url);
    origin = url.origin; // what a browser sends for a same-origin form post
    method = 'POST';
    body = form.toString();
    url = next;
  }
  throw new Error('too many redirects in the demo login');
}
