// The one SHA-256 helper: hex digest of UTF-8 text (statement bindings, audit hashes, masking's
// hash method, analysis cache keys all use this exact form).
import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
