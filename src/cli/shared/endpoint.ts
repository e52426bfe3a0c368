import { createIamConnectionOptions, type IamConnectionOptionsInput, IamOptionsError } from '../../index.js';

const NO_REGION_HINT =
  'Pass --region (e.g. us-east-1), or set AWS_REGION (or AWS_DEFAULT_REGION) in the environment: only ' +
  '*.<region>.rds.amazonaws.com names carry the region.';

/** Where the region a token is signed for came from. */
export type RegionSource = '--region' | 'host name' | 'AWS_REGION' | 'AWS_DEFAULT_REGION';

export interface EndpointInput {
  hostname: string;
  port?: number | undefined;
  username: string;
  region?: string | undefined;
  connectHost?: string | undefined;
  connectPort?: number | undefined;
}

/** What a token is signed for, validated by the same rules as `createIamPool()`. */
export interface Endpoint {
  hostname: string;
  port: number;
  username: string;
  region: string;
  regionSource: RegionSource;
  /** Whether the host name is an RDS endpoint name (which carries the region). */
  rdsName: boolean;
  connectHost: string | undefined;
  connectPort: number | undefined;
}

/**
 * Region: --region, else the one in the RDS host name, else AWS_REGION / AWS_DEFAULT_REGION (for a
 * CNAME). The host name wins over the environment because the token must name the instance's own
 * region, whatever region the rest of the application runs in.
 * Throws `IamOptionsError` (from the library's option validation) for anything invalid.
 */
export function resolveEndpoint(input: EndpointInput, env: NodeJS.ProcessEnv): Endpoint {
  const target: IamConnectionOptionsInput = {
    host: input.hostname,
    user: input.username,
    // Nothing is signed here: the options are only validated and resolved.
    credentials: async () => ({ accessKeyId: '', secretAccessKey: '' }),
    ...(input.port === undefined ? {} : { port: input.port }),
    ...(input.connectHost === undefined ? {} : { connectHost: input.connectHost }),
    ...(input.connectPort === undefined ? {} : { connectPort: input.connectPort }),
  };
  const hostRegion = regionInHostName(target);
  const envRegion = env.AWS_REGION?.trim() || undefined;
  const envDefaultRegion = env.AWS_DEFAULT_REGION?.trim() || undefined;
  const [region, regionSource]: [string | undefined, RegionSource] =
    input.region !== undefined
      ? [input.region, '--region']
      : hostRegion !== undefined
        ? [undefined, 'host name']
        : envRegion !== undefined
          ? [envRegion, 'AWS_REGION']
          : [envDefaultRegion, 'AWS_DEFAULT_REGION'];
  let resolved: ReturnType<typeof createIamConnectionOptions>;
  try {
    resolved = createIamConnectionOptions({ ...target, ...(region === undefined ? {} : { region }) });
  } catch (err) {
    // No region from anywhere: say every way to give one, not only the library's `region` option.
    if (err instanceof IamOptionsError && err.option === 'region' && region === undefined) {
      throw new IamOptionsError('region', `cannot be inferred from host "${input.hostname}"`, NO_REGION_HINT);
    }
    throw err;
  }
  return {
    hostname: resolved.host,
    port: resolved.port,
    username: resolved.user,
    region: resolved.iam.region,
    regionSource,
    rdsName: hostRegion !== undefined,
    connectHost: input.connectHost?.trim(),
    connectPort: input.connectPort,
  };
}

/** The region an RDS endpoint name carries, as the library infers it; undefined for other names. */
function regionInHostName(target: IamConnectionOptionsInput): string | undefined {
  try {
    return createIamConnectionOptions(target).iam.region;
  } catch {
    return undefined;
  }
}

const FLAG_FOR_OPTION: Record<string, string> = {
  host: '--hostname',
  user: '--username',
  port: '--port',
  region: '--region',
  connectHost: '--connect-host',
  connectPort: '--connect-port',
  ssl: '--ca',
  'ssl.ca': '--ca',
};

/** The library's option error, reworded with command-line flag names instead of option names. */
export function describeOptionError(err: IamOptionsError): { message: string; hint: string } {
  const rest = err.message.replace(/^Invalid option `[^`]+`: /, '');
  const flag = FLAG_FOR_OPTION[err.option] ?? err.option;
  const hint = err.hint.replace(/`([A-Za-z.]+)`/g, (whole, name: string) => FLAG_FOR_OPTION[name] ?? whole);
  return { message: `${flag} ${rest}`, hint };
}
