// The `masking` section of the gateway config, and turning it into runtime options.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DETECTORS, type DetectorName } from './detectors.js';
import { decodeKey, type PseudonymKey } from './keys.js';
import type { UpstreamShapes } from './upstream-shapes.js';
import { BqwardenError } from '../common/errors.js';

const detectorToggles = Object.fromEntries(DETECTORS.map((d) => [d, z.boolean().default(true)])) as Record<DetectorName, z.ZodDefault<z.ZodBoolean>>;

export const MaskingConfigSchema = z.object({
  pseudonym: z
    .object({
      /** Recorded beside tokens in docs/ops so a token can be traced to the key that made it. */
      keyId: z.string().min(1).default('default'),
      /** Inline key material (tests and the demo only): hex, base64 or text, at least 32 bytes. */
      key: z.string().min(1).nullable().default(null),
      /** Production: a file holding the key, e.g. a Secret Manager secret mounted into the container. */
      keyFile: z.string().min(1).nullable().default(null),
    })
    .default({ keyId: 'default', key: null, keyFile: null }),
  detectors: z.object(detectorToggles).default(Object.fromEntries(DETECTORS.map((d) => [d, true])) as Record<DetectorName, boolean>),
  /** What a detector puts in place of a match: a `[REDACTED:<detector>]` marker, or the keyed token. */
  detectorAction: z.enum(['redact', 'pseudonym']).default('redact'),
  /**
   * Text that cannot be mapped to columns (error messages, prose) when the query can return
   * sensitive columns: `withhold` replaces it with a notice (fail closed: errors such as
   * "Bad int64 value: <name>" echo data), `detectors` only runs the detectors over it.
   */
  unmappedText: z.enum(['withhold', 'detectors']).default('withhold'),
});

export interface MaskingOptions {
  key: PseudonymKey;
  detectors: Record<DetectorName, boolean>;
  detectorAction: 'redact' | 'pseudonym';
  unmappedText: 'withhold' | 'detectors';
  /** How the upstream kinds answer (src/upstreams/result-shapes.ts, wired by the entry). */
  shapes: UpstreamShapes;
}

export class MaskingConfigError extends BqwardenError {
  constructor(message: string) {
    super('masking_config_invalid', message);
    this.name = 'MaskingConfigError';
  }
}

/**
 * Reads the key (inline or file) and returns the options applyMasking needs, with the upstream
 * kinds' result shapes (masking imports no upstream: the caller hands them in). Throws
 * MaskingConfigError.
 */
export function resolveMaskingOptions(input: unknown, shapes: UpstreamShapes): MaskingOptions {
  const parsed = MaskingConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw new MaskingConfigError(`masking config invalid: ${parsed.error.message}`);
  const cfg = parsed.data;
  const { key, keyFile, keyId } = cfg.pseudonym;
  if (key && keyFile) throw new MaskingConfigError('masking.pseudonym: set either key or keyFile, not both');
  let material: string;
  if (keyFile) {
    try {
      material = readFileSync(keyFile, 'utf8');
    } catch (e) {
      throw new MaskingConfigError(`masking.pseudonym.keyFile ${keyFile} cannot be read: ${(e as Error).message}`);
    }
  } else if (key) {
    material = key;
  } else {
    throw new MaskingConfigError('masking.pseudonym.key or masking.pseudonym.keyFile is required (pseudonyms are keyed)');
  }
  try {
    return {
      key: decodeKey(keyId, material),
      detectors: cfg.detectors,
      detectorAction: cfg.detectorAction,
      unmappedText: cfg.unmappedText,
      shapes,
    };
  } catch (e) {
    throw new MaskingConfigError(`masking.pseudonym (${keyFile ? 'keyFile' : 'key'}): ${(e as Error).message}`);
  }
}
