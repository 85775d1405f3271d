// Public surface of the policy module.
export { loadPolicy, compilePolicy, type Policy } from './engine.js';
export { PolicyStore, type ReloadResult, type PolicyStoreOptions } from './store.js';
export { PolicyLoadError, type PolicyProblem } from './errors.js';
export { PolicyConfigSchema, type PolicyConfig } from './config.js';
