/** The partition in an ARN, from the region name. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('eusc-')) return 'aws-eusc';
  return 'aws';
}

/** `arn:<partition>:rds-db:<region>:<account>:dbuser:<resource id>/<db user>`, what rds-db:connect names. */
export function dbUserArn(region: string, account: string, resourceId: string, user: string): string {
  return `arn:${partitionOf(region)}:rds-db:${region}:${account}:dbuser:${resourceId}/${user}`;
}
