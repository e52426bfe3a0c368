import { generateKeyPair, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type Forge from 'node-forge';
import { EmulatorError } from './errors.js';

type ForgeModule = typeof Forge;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface ServerCertificate {
  certPem: string;
  keyPem: string;
  /** PEM of the CA that signed certPem; what a client must trust. */
  caPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

let forgeLoading: Promise<ForgeModule> | undefined;

/**
 * node-forge is an optional peer dependency: only certificate generation needs it, so a user who
 * never runs the emulator (or gives it a ready certificate) never installs it. Imported once, on first use.
 */
function loadForge(): Promise<ForgeModule> {
  forgeLoading ??= importForge(() => import('node-forge')).catch((err: unknown) => {
    forgeLoading = undefined;
    throw err;
  });
  return forgeLoading;
}

/** Runs `importer` and turns "module not found" into EMULATOR_NODE_FORGE_MISSING with the install command. */
export async function importForge(importer: () => Promise<unknown>): Promise<ForgeModule> {
  let mod: unknown;
  try {
    mod = await importer();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new EmulatorError(
        'EMULATOR_NODE_FORGE_MISSING',
        'The emulator generates its test certificates with node-forge, an optional peer dependency that is not installed',
        'Run `npm i -D node-forge`, or pass `tls: { cert, key, ca }` with a certificate of your own.',
        { cause: err },
      );
    }
    throw err;
  }
  // ESM import() of a CommonJS module puts module.exports on `default`.
  return ((mod as { default?: ForgeModule }).default ?? mod) as ForgeModule;
}

/** RSA 2048 via node:crypto (OpenSSL), which takes milliseconds where forge's pure-JS keygen takes seconds. */
async function generateRsaKeyPair(forge: ForgeModule): Promise<{
  privateKey: Forge.pki.rsa.PrivateKey;
  publicKey: Forge.pki.rsa.PublicKey;
}> {
  const { privateKey, publicKey } = await new Promise<{ privateKey: string; publicKey: string }>(
    (resolve, reject) => {
      generateKeyPair(
        'rsa',
        {
          modulusLength: 2048,
          publicKeyEncoding: { type: 'spki', format: 'pem' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        },
        (err, pub, priv) => (err ? reject(err) : resolve({ publicKey: pub, privateKey: priv })),
      );
    },
  );
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey) as Forge.pki.rsa.PrivateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey) as Forge.pki.rsa.PublicKey,
  };
}

/**
 * A positive 128-bit serial, as RFC 5280 asks for, whose first byte is never zero. node-forge drops
 * one leading zero byte from the hex it is given and writes the rest as the DER INTEGER, so a
 * serial starting 00 00 followed by a byte below 0x80 came out non-minimal, which OpenSSL refuses
 * ("illegal padding"): about one certificate in 65 536.
 */
export function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** Validity starts a day back so a test that moves the emulator clock (or a skewed host) still trusts it. */
function setValidity(cert: Forge.pki.Certificate, days: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - DAY_MS);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

export async function generateCertificateAuthority(
  commonName = 'rds-iam-pool emulator test CA',
): Promise<CertificateAuthority> {
  const forge = await loadForge();
  const keys = await generateRsaKeyPair(forge);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  setValidity(cert, 365);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'rds-iam-pool emulator (NOT FOR PRODUCTION)' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}

/** A server certificate for `names` (DNS names or IP literals), signed by `ca`. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  names: readonly string[],
): Promise<ServerCertificate> {
  const forge = await loadForge();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const keys = await generateRsaKeyPair(forge);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialNumber();
  setValidity(cert, 90);
  cert.setSubject([{ name: 'commonName', value: names[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [...new Set(names)].map((name) =>
    isIP(name) ? { type: 7, ip: name } : { type: 2, value: name },
  );
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: forge.pki.privateKeyToPem(keys.privateKey),
    caPem: ca.certPem,
  };
}

/** A fresh CA and a server certificate from it: the default, and what useUntrustedCertificate serves. */
export async function generateServerCertificate(names: readonly string[]): Promise<ServerCertificate> {
  return issueServerCertificate(await generateCertificateAuthority(), names);
}
