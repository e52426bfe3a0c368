import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateServerCertificate, serialNumber } from '../../src/emulator/certificates.js';

describe('emulator certificates', () => {
  it('draws serials that are positive DER integers without padding (first byte 0x40-0x7f)', () => {
    for (let i = 0; i < 2000; i++) {
      const first = Number.parseInt(serialNumber().slice(0, 2), 16);
      expect(first).toBeGreaterThanOrEqual(0x40);
      expect(first).toBeLessThanOrEqual(0x7f);
    }
  });

  it('issues a server certificate OpenSSL parses, for the RDS name, localhost and 127.0.0.1', async () => {
    const { certPem, caPem } = await generateServerCertificate([
      'mydb.abc123.us-east-1.rds.amazonaws.com',
      'localhost',
      '127.0.0.1',
    ]);
    const cert = new X509Certificate(certPem);
    expect(cert.checkIssued(new X509Certificate(caPem))).toBe(true);
    expect(cert.subjectAltName).toContain('DNS:mydb.abc123.us-east-1.rds.amazonaws.com');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
  });
});
