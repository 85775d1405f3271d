// Browser sessions under pressure: a script that sends its credential in a header on every
// request (and never returns the cookie) starts a session each time. It must not push other
// people's browser sessions, or its own user's browser session, out of the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore } from '../../src/web/sessions.js';
import type { Identity } from '../../src/identity/types.js';

function person(subject: string): Identity {
  return { issuer: 'https://idp.example', subject, email: `${subject}@bank.example`, groups: [], roles: [], actorType: 'human', authMethod: 'oidc', expiresAt: null, name: null };
}

function browse(store: SessionStore, id: string) {
  store.touch(id);
  return store.get(id);
}

test('a polling script cannot evict browser sessions: its own unreturned sessions go first', () => {
  const store = new SessionStore(3600, Date.now, { maxSessions: 50, maxPerIdentity: 4 });
  const alice = store.start(person('alice')).session;
  const bobBrowser = store.start(person('bob')).session;
  // Both browsers come back with their cookie (what the web module reports with touch).
  browse(store, alice.id);
  browse(store, bobBrowser.id);
  // bob's CI job polls the console API with a bearer token and never keeps cookies.
  for (let i = 0; i < 500; i++) store.start(person('bob'));
  assert.ok(store.get(alice.id), "another user's browser session survives");
  assert.ok(store.get(bobBrowser.id), "the script's own user's browser session survives");
  assert.ok(store.size <= 2 + 4, `the script holds at most its quota (store size ${store.size})`);
});

test('many identities still meet the global cap; expired sessions go before live ones', () => {
  let now = 1_000_000;
  const store = new SessionStore(60, () => now, { maxSessions: 10, maxPerIdentity: 4 });
  const old = store.start(person('old')).session;
  now += 61_000;
  const keep = store.start(person('keep')).session;
  browse(store, keep.id);
  for (let i = 0; i < 9; i++) store.start(person(`u${i}`));
  assert.equal(store.get(old.id), null, 'expired');
  assert.ok(store.get(keep.id), 'the expired session made room, not the live one');
  for (let i = 9; i < 40; i++) store.start(person(`u${i}`));
  assert.ok(store.size <= 10);
});

test('a fifth browser of the same user replaces its oldest; ending a session frees its slot', () => {
  const store = new SessionStore(3600, Date.now, { maxSessions: 50, maxPerIdentity: 4 });
  const tabs = [0, 1, 2, 3].map(() => store.start(person('carol')).session);
  for (const t of tabs) assert.ok(browse(store, t.id));
  const fifth = store.start(person('carol')).session;
  assert.equal(store.get(tabs[0]!.id), null, 'the oldest returned session of that user went');
  assert.ok(store.get(fifth.id));
  store.end(fifth.id);
  store.start(person('carol'));
  assert.ok(store.get(tabs[1]!.id), 'the ended session freed a slot: nothing else was evicted');
});
