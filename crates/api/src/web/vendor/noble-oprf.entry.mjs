// The parts of @noble/curves and @noble/hashes the private credential check uses in the
// browser: RFC 9497's OPRF over ristretto255-SHA512, and SHA-256 (buckets and tags).
export { ristretto255_oprf } from '@noble/curves/ed25519.js';
export { sha256 } from '@noble/hashes/sha2.js';
