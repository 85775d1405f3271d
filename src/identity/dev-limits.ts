// Lifetimes of dev-issuer tokens, apart from the issuer itself so `bqwarden token --help` can
// print them without loading jose and the key store.
export const DEFAULT_DEV_TTL_SECONDS = 3600;
export const MAX_DEV_TTL_SECONDS = 24 * 3600;
