// The evidence pack's own integrity: a manifest with the SHA-256 of each file of the pack,
// signed with an Ed25519 key (the audit signing key by default), and its verification. A
// document cannot carry its own hash, so the manifest sits beside it; an examiner checks it with
// the public key they pinned (`bqwarden verify-report <manifest> --key <pem>`).
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { keyFingerprint } from '../audit/checkpoint.js';

const MANIFEST_FORMAT = 'bqwarden-evidence-manifest/1';

export interface Manifest {
  format: string;
  period: { from: string; to: string };
  generated_at: string;
  preparer: string | null;
  exceptions: number;
  files: { name: string; bytes: number; sha256: string }[];
  /** Ed25519 over the canonical JSON of everything above (keys in this order). */
  signature: { algorithm: 'Ed25519'; key_id: string; public_key_pem: string; value: string } | null;
}

function body(m: Omit<Manifest, 'signature'>): Buffer {
  return Buffer.from(JSON.stringify({ format: m.format, period: m.period, generated_at: m.generated_at, preparer: m.preparer, exceptions: m.exceptions, files: m.files }), 'utf8');
}

export async function signManifest(o: {
  period: { from: string; to: string };
  generatedAt: string;
  preparer: string | null;
  exceptions: number;
  files: { name: string; bytes: number; data: Buffer }[];
  signKey: string | null;
}): Promise<Manifest> {
  const unsigned: Omit<Manifest, 'signature'> = {
    format: MANIFEST_FORMAT,
    period: o.period,
    generated_at: o.generatedAt,
    preparer: o.preparer,
    exceptions: o.exceptions,
    files: o.files.map((f) => ({ name: f.name, bytes: f.bytes, sha256: createHash('sha256').update(f.data).digest('hex') })),
  };
  if (!o.signKey) return { ...unsigned, signature: null };
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(o.signKey, 'utf8'));
  } catch (err) {
    // Never echo the file: it is a private key.
    throw new Error(`cannot use ${o.signKey} to sign the evidence pack: ${(err as NodeJS.ErrnoException).code ?? 'not a PEM private key'}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`the evidence pack signing key must be Ed25519, ${o.signKey} is ${key.asymmetricKeyType}`);
  const pub = createPublicKey(key);
  return {
    ...unsigned,
    signature: { algorithm: 'Ed25519', key_id: keyFingerprint(pub), public_key_pem: pub.export({ type: 'spki', format: 'pem' }).toString(), value: sign(null, body(unsigned), key).toString('base64') },
  };
}

export interface ManifestCheck {
  ok: boolean;
  lines: string[];
}

/** Checks every file's SHA-256, the signature, and that the signer is one of the pinned keys (none pinned: not OK). */
export async function verifyManifest(path: string, pinned: string[] = []): Promise<ManifestCheck> {
  const lines: string[] = [];
  let ok = true;
  const m = JSON.parse(await readFile(path, 'utf8')) as Manifest;
  if (m.format !== MANIFEST_FORMAT) return { ok: false, lines: [`${path} is not an evidence manifest (format ${String(m.format)})`] };
  for (const f of m.files) {
    // A manifest names files of the pack beside it, nothing else: no path may lead elsewhere.
    if (typeof f.name !== 'string' || f.name === '' || f.name !== basename(f.name) || f.name === '.' || f.name === '..') {
      ok = false;
      lines.push(`REFUSED  ${JSON.stringify(f.name)}: not a file name beside the manifest`);
      continue;
    }
    let data: Buffer;
    try {
      data = await readFile(join(dirname(path), f.name));
    } catch {
      ok = false;
      lines.push(`MISSING  ${f.name}`);
      continue;
    }
    const got = createHash('sha256').update(data).digest('hex');
    if (got !== f.sha256) ok = false;
    lines.push(`${got === f.sha256 ? 'OK      ' : 'CHANGED '} ${f.name}  sha256 ${got}${got === f.sha256 ? '' : ` (manifest says ${f.sha256})`}`);
  }
  if (!m.signature) {
    ok = false;
    lines.push('UNSIGNED: the manifest carries no signature');
    return { ok, lines };
  }
  const { signature, ...rest } = m;
  const pub = createPublicKey(signature.public_key_pem);
  const valid = verify(null, body(rest), pub, Buffer.from(signature.value, 'base64'));
  if (!valid) ok = false;
  lines.push(`${valid ? 'OK      ' : 'BAD     '} signature (Ed25519, key ${signature.key_id})`);
  if (pinned.length) {
    const ids = pinned.map((p) => keyFingerprint(createPublicKey(p)));
    const trusted = ids.includes(keyFingerprint(pub));
    if (!trusted) ok = false;
    lines.push(trusted ? `OK       signer ${signature.key_id} is a pinned key` : `UNTRUSTED signer ${signature.key_id} is not among the pinned keys (${ids.join(', ')})`);
  } else {
    // Anyone can re-sign an edited pack with a key of their own: without a pinned key the
    // signature says nothing about who signed, so the pack is not vouched for.
    ok = false;
    lines.push('UNVERIFIED signer: no key pinned (--key <public key pem>); the signature only proves the files match the manifest, not who signed it');
  }
  return { ok, lines };
}

/** The fingerprint of the key that will sign the pack (named in the document itself). */
export async function signingKeyId(file: string): Promise<string> {
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot use ${file} to sign the evidence pack: ${(err as NodeJS.ErrnoException).code ?? 'not a PEM private key'}`);
  }
  return keyFingerprint(createPublicKey(key));
}
