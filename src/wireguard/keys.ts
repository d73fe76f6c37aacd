/**
 * WireGuard keys: X25519 from node's crypto, in WireGuard's text form (base64 of the raw 32
 * bytes), so `wg pubkey < privatekey` gives the same public key as ours.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export class InvalidKeyError extends Error {
  override readonly name = 'InvalidKeyError';
}

const KEY_BYTES = 32;

function fromBase64url(value: string | undefined): string {
  if (value === undefined) throw new InvalidKeyError('the key has no raw X25519 value');
  return Buffer.from(value, 'base64url').toString('base64');
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey: fromBase64url(privateKey.export({ format: 'jwk' }).d), publicKey: fromBase64url(publicKey.export({ format: 'jwk' }).x) };
}

/** The public key of a WireGuard private key (what `wg pubkey` prints). */
export function publicKeyOf(privateKey: string): string {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== KEY_BYTES) throw new InvalidKeyError(`a WireGuard key is ${KEY_BYTES} bytes in base64; got ${raw.length} bytes`);
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: raw.toString('base64url'), x: '' }, format: 'jwk' });
  return fromBase64url(createPublicKey(key).export({ format: 'jwk' }).x);
}
