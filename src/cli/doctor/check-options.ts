import { readFile } from 'node:fs/promises';
import { defaultRdsCa, IamOptionsError } from '../../index.js';
import { describeOptionError, resolveEndpoint } from '../shared/endpoint.js';
import { safeMessage } from '../shared/failures.js';
import { fail, pass, type StepOutcome, warn } from './report.js';
import type { DoctorState, TrustStore } from './state.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Validates the target with the library's own rules and settles the region and the trusted CAs. */
export async function checkOptions(state: DoctorState): Promise<StepOutcome> {
  const { input } = state;
  let endpoint: DoctorState['endpoint'];
  try {
    endpoint = resolveEndpoint(input, input.env);
  } catch (err) {
    if (!(err instanceof IamOptionsError)) throw err;
    const { message, hint } = describeOptionError(err);
    return fail(message, [], hint);
  }
  state.endpoint = endpoint;

  let trust: TrustStore;
  if (input.caFile === undefined) {
    const certificates = defaultRdsCa();
    trust = {
      certificates,
      description: `the bundled RDS CAs and Amazon roots (${certificates.length} certificates)`,
      bundled: true,
    };
  } else {
    let pem: string;
    try {
      pem = await readFile(input.caFile, 'utf8');
    } catch (err) {
      return fail(`cannot read --ca ${input.caFile}: ${safeMessage(err)}`, [], 'Pass a readable PEM file.');
    }
    const certificates = pem.match(PEM_CERTIFICATE) ?? [];
    if (certificates.length === 0) {
      return fail(
        `--ca ${input.caFile} contains no PEM certificate`,
        [],
        'Pass a file with -----BEGIN CERTIFICATE----- blocks, e.g. https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem.',
      );
    }
    trust = {
      certificates,
      description: `--ca ${input.caFile} (${certificates.length} certificate${certificates.length === 1 ? '' : 's'}, replacing the bundled RDS CAs)`,
      bundled: false,
    };
  }
  state.trust = trust;

  const details = [
    `token for ${endpoint.username}@${endpoint.hostname}:${endpoint.port}, region ${endpoint.region} (from ${endpoint.regionSource})`,
    endpoint.connectHost !== undefined || endpoint.connectPort !== undefined
      ? `TCP goes to ${endpoint.connectHost ?? endpoint.hostname}:${endpoint.connectPort ?? endpoint.port}; TLS and the token keep ${endpoint.hostname}`
      : `TCP goes to ${endpoint.hostname}:${endpoint.port}`,
    `TLS trusts ${trust.description}`,
  ];
  const summary = `region ${endpoint.region} (from ${endpoint.regionSource}), port ${endpoint.port}, user ${endpoint.username}`;

  // A --region that contradicts the host name was refused above, as createIamPool refuses it.
  if (!endpoint.rdsName) {
    return warn(
      `${endpoint.hostname} is not an RDS endpoint name; region ${endpoint.region} comes from ${endpoint.regionSource}`,
      details,
      'The token and the server certificate name the RDS endpoint (*.<region>.rds.amazonaws.com). If this is a ' +
        'CNAME, an IP or a tunnel, pass the endpoint as --hostname and this address as --connect-host.',
    );
  }
  return pass(summary, details);
}
