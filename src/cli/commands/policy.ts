import { dbUserArn } from '../shared/arn.js';
import { MAX_USER_LENGTH, validateUserName } from '../shared/db-user.js';
import { ExitCode, UsageError } from '../shared/failures.js';
import type { Command } from './command.js';

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d+$/;
const ACCOUNT = /^\d{12}$/;
// DbiResourceId (db-...), DbClusterResourceId (cluster-...) or an RDS Proxy id (prx-...).
const RESOURCE_ID = /^(?:db|cluster|prx)-[A-Z0-9]+$/;

export const policyCommand: Command = {
  spec: {
    name: 'policy',
    summary: 'print the IAM policy that allows rds-db:connect as a database user',
    usage:
      'policy --region REGION --account ID --resource-id db-XXXX|cluster-XXXX|prx-XXXX --user NAME [--user NAME...] [--json]',
    description: [
      'The resource is arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER. RESOURCE_ID is the ' +
        "instance's DbiResourceId (db-...), the cluster's DbClusterResourceId (cluster-...) or an RDS " +
        'Proxy id (prx-...), not the instance name: aws rds describe-db-instances --db-instance-identifier ' +
        "NAME --query 'DBInstances[0].DbiResourceId'. Attach the policy to the role or user the application " +
        'runs as. The policy is printed as JSON with or without --json.',
    ],
    flags: {
      region: {
        type: 'string',
        value: 'REGION',
        description: 'Region of the instance or cluster, e.g. eu-west-1.',
      },
      account: { type: 'string', value: 'ID', description: 'The 12-digit AWS account id that owns it.' },
      'resource-id': {
        type: 'string',
        value: 'ID',
        description:
          'DbiResourceId (db-...), DbClusterResourceId (cluster-...), RDS Proxy id (prx-...), or * for all.',
      },
      user: {
        type: 'string',
        multiple: true,
        value: 'NAME',
        description: 'Database user the principal may log in as.',
      },
      json: {
        type: 'boolean',
        description:
          'The policy is JSON either way; with --json a usage error is also printed as JSON on stdout.',
      },
    },
    examples: [
      'rds-iam-pool policy --region eu-west-1 --account 123456789012 --resource-id db-ABCDEFGHIJKLMNOPQRSTUVWXYZ --user app_iam',
    ],
  },

  async run({ flags, out }) {
    const region = flags.requiredString('region');
    if (!REGION.test(region)) {
      throw new UsageError(
        `--region "${region}" is not an AWS region name`,
        'For example us-east-1 or eu-west-3.',
      );
    }
    const account = flags.requiredString('account');
    if (!ACCOUNT.test(account)) {
      throw new UsageError(
        `--account "${account}" is not a 12-digit account id`,
        'aws sts get-caller-identity --query Account prints it.',
      );
    }
    const resourceId = parseResourceId(flags.requiredString('resource-id'));
    const users = flags.strings('user');
    if (users.length === 0) throw new UsageError('--user is required');
    const resources = users.map((user) =>
      dbUserArn(region, account, resourceId, validateUserName(user, MAX_USER_LENGTH.mariadb)),
    );
    out.json({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'rds-db:connect',
          Resource: resources.length === 1 ? resources[0] : resources,
        },
      ],
    });
    return ExitCode.ok;
  },
};

function parseResourceId(id: string): string {
  if (id === '*' || RESOURCE_ID.test(id)) return id;
  if (/^(?:db|cluster|prx)-[A-Za-z0-9]+$/.test(id)) {
    throw new UsageError(
      `--resource-id "${id}" has lower-case letters; resource ids are upper case`,
      'Copy the DbiResourceId exactly, e.g. db-ABCDEFGHIJKLMNOPQRSTUVWXYZ: ARNs in policies match case-sensitively.',
    );
  }
  throw new UsageError(
    `--resource-id "${id}" is not a resource id (db-..., cluster-... or prx-...)`,
    'The policy needs the resource id, not the instance or cluster name: ' +
      "aws rds describe-db-instances --db-instance-identifier NAME --query 'DBInstances[0].DbiResourceId' " +
      "(clusters: describe-db-clusters --query 'DBClusters[0].DbClusterResourceId').",
  );
}
