// Public surface of the policy module.
export { loadPolicy } from './engine.js';
