// Public surface of the masking module.
export { applyMasking, DETECTORS_ONLY_PLAN, maskText, redactDetected, WITHHELD_TEXT, MASKING_FAILED_TEXT, type CallToolResultLike, type MaskingOutcome } from './apply.js';
export { MaskingConfigSchema, MaskingConfigError, resolveMaskingOptions, type MaskingConfig, type MaskingOptions } from './config.js';
export { DETECTORS, scanText, scanNumber, type DetectorName, type DetectorHit } from './detectors.js';
export { maskValue, maskScalar, strictest, STRICTNESS, pseudonymToken, sha256Hex } from './methods.js';
export { decodeKey, type PseudonymKey } from './keys.js';
