/**
 * Certificates: the one place that creates X.509 (CA, manager and container certificates, CSRs).
 * Node reads certificates (node:crypto X509Certificate) but cannot write them, so creation goes
 * through @peculiar/x509 on Node's own WebCrypto: no OpenSSL command at run time. ECDSA P-256
 * with SHA-256 throughout: every Node TLS build and every browser accepts it.
 */
// @peculiar/x509 resolves its classes through tsyringe, which needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** A certificate's notBefore is set this far back, so a peer whose clock is a little behind accepts it. */
export const CLOCK_SKEW_ALLOWANCE_MS = 60_000;
/** The cluster CA lives ten years (`flotilla ca rotate` replaces it without downtime, docs/security.md §4). */
export const CA_LIFETIME_MS = 10 * 365 * 86_400_000;
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** A CSR that is not PEM, not signed by its own key, or not an ECDSA/RSA request we can read. */
export class InvalidCsrError extends Error {
  override readonly name = 'InvalidCsrError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

/** What the CA needs in hand to sign: its certificate and its private key as WebCrypto wants it. */
export interface SigningCa {
  certPem: string;
  cert: x509.X509Certificate;
  key: CryptoKey;
}

function pemOf(label: string, der: ArrayBuffer): string {
  return x509.PemConverter.encode(der, label) + '\n';
}

function derOfPem(pem: string): ArrayBuffer {
  const ders = x509.PemConverter.decode(pem);
  if (ders.length === 0) throw new Error('no PEM block found');
  return ders[0]!;
}

async function newKeyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC, true, ['sign', 'verify']);
}

async function privatePem(key: CryptoKey): Promise<string> {
  return pemOf('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

/** A positive 128-bit serial (the high bit cleared: a DER INTEGER with it set would read negative). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** `CN=<value>`, with the characters a distinguished name gives a meaning to escaped. */
function cn(value: string): string {
  return `CN=${value.replace(/([,+"\\<>;=#])/g, '\\$1')}`;
}

function altNames(names: readonly string[]): x509.SubjectAlternativeNameExtension {
  const unique = [...new Set(names.filter((n) => n !== ''))];
  return new x509.SubjectAlternativeNameExtension(unique.map((n) => ({ type: isIP(n.replace(/^\[|\]$/g, '')) !== 0 ? 'ip' : 'dns', value: n.replace(/^\[|\]$/g, '') }) as const));
}

/** A new cluster CA: its own key, self-signed, allowed to sign certificates only (path length 0). */
export async function createCa(name: string, now: Date = new Date()): Promise<KeyAndCert> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: cn(name),
    notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await privatePem(keys.privateKey) };
}

/**
 * The cross certificate of a CA rotation: the new CA's subject, public key and key identifier,
 * issued by the old CA. A leaf of the new CA presented as [leaf, cross] verifies against the old
 * root too, so members that still trust only the old CA accept it during the overlap. Both CAs
 * carry the same subject on purpose: the cross certificate is then "self-issued" (RFC 5280
 * §6.1.4), which the old root's path length 0 allows; the key identifiers tell the two apart.
 */
export async function crossSign(oldCa: SigningCa, newCaCertPem: string, now: Date = new Date()): Promise<string> {
  const next = new x509.X509Certificate(newCaCertPem);
  const skid = next.getExtension<x509.SubjectKeyIdentifierExtension>(x509.SubjectKeyIdentifierExtension.NAME);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: next.subject,
    issuer: oldCa.cert.subject,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    // Never past the old root: nothing chains through it after that anyway.
    notAfter: new Date(Math.min(next.notAfter.getTime(), oldCa.cert.notAfter.getTime())),
    signingAlgorithm: SIGN,
    publicKey: next.publicKey,
    signingKey: oldCa.key,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      skid ?? (await x509.SubjectKeyIdentifierExtension.create(next.publicKey)),
      await x509.AuthorityKeyIdentifierExtension.create(oldCa.cert.publicKey),
    ],
  });
  return cert.toString('pem') + '\n';
}

/** Reads the CA's files into something that signs; the key must be the PKCS#8 P-256 key `createCa` wrote. */
export async function loadSigningCa(certPem: string, keyPem: string): Promise<SigningCa> {
  const cert = new x509.X509Certificate(certPem);
  const key = await webcrypto.subtle.importKey('pkcs8', derOfPem(keyPem), EC, false, ['sign']);
  return { certPem, cert, key };
}

export interface IssueRequest {
  commonName: string;
  /** DNS names and IP addresses for the subjectAltName. */
  names: readonly string[];
  ttlMs: number;
  now?: Date;
}

async function issue(ca: SigningCa, publicKey: CryptoKey | x509.PublicKey, req: IssueRequest): Promise<x509.X509Certificate> {
  const now = req.now ?? new Date();
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: cn(req.commonName),
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: new Date(now.getTime() + req.ttlMs),
    signingAlgorithm: SIGN,
    publicKey,
    signingKey: ca.key,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      // Every member of the cluster both serves (its API) and calls (the manager, its peers).
      new x509.ExtendedKeyUsageExtension([OID_SERVER_AUTH, OID_CLIENT_AUTH]),
      altNames([req.commonName, ...req.names]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
}

/**
 * Signs a container's CSR. Only the CSR's public key is used (after checking the CSR is signed by
 * it, i.e. the caller holds the private key): the names in the certificate are the manager's
 * choice (the container id and its registered address), never what the request asks for.
 */
export async function signCsr(ca: SigningCa, csrPem: string, req: IssueRequest): Promise<string> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (cause) {
    throw new InvalidCsrError('csr: not a PEM certificate signing request', { cause });
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch (cause) {
    throw new InvalidCsrError(`csr: cannot verify its signature (${(cause as Error).message})`, { cause });
  }
  if (!valid) throw new InvalidCsrError('csr: its signature does not match its public key');
  return (await issue(ca, csr.publicKey, req)).toString('pem') + '\n';
}

/** A key pair made here and a certificate for it from the CA (the manager's own). */
export async function issueKeyAndCert(ca: SigningCa, req: IssueRequest): Promise<KeyAndCert> {
  const keys = await newKeyPair();
  const cert = await issue(ca, keys.publicKey, req);
  return { certPem: cert.toString('pem') + '\n', keyPem: await privatePem(keys.privateKey) };
}

/** A new private key (PEM, never sent anywhere) and a CSR for it naming `commonName`. */
export async function newKeyAndCsr(commonName: string, names: readonly string[] = []): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await newKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: cn(commonName), keys, signingAlgorithm: SIGN, extensions: [altNames([commonName, ...names])] });
  return { keyPem: await privatePem(keys.privateKey), csrPem: csr.toString('pem') + '\n' };
}

/** A self-signed stand-in so an HTTPS server can listen before its real certificate arrives. */
export async function selfSigned(commonName: string, ttlMs: number = 86_400_000): Promise<KeyAndCert> {
  const keys = await newKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: cn(commonName),
    notBefore: new Date(now - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: new Date(now + ttlMs),
    signingAlgorithm: SIGN,
    keys,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), altNames([commonName])],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await privatePem(keys.privateKey) };
}

