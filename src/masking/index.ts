// Public surface of the masking module.
export { applyMasking, redactDetected } from './apply.js';
export { resolveMaskingOptions } from './config.js';
export { maskValue } from './methods.js';
export { decodeKey } from './keys.js';
