/**
 * `kiln secrets set NAME=VALUE… | list | unset NAME`: the runtime keeps values encrypted and
 * hands them to the apps that list them in `secrets`; only names ever come back, and the CLI
 * never prints a value.
 */
import type { Command } from 'commander';
import { ENV_NAME_PATTERN } from '../appconfig/names';
import type { SecretInfo } from '../shared/api';
import { connect } from './connection';
import { UsageError } from './failures';
import { formatTable, printJson, relativeTime, styleFor } from './format';

export function registerSecrets(program: Command): void {
  const secrets = program
    .command('secrets')
    .description("manage the secrets apps receive as environment variables (values are never shown)");

  secrets
    .command('set')
    .description('set one or more secrets; apps that list a name in `secrets` get it as an environment variable')
    .argument('<assignments...>', 'NAME=VALUE pairs')
    .option('--json', 'print the stored secrets (names and times) as JSON')
    .action(async (assignments: string[], options: { json?: boolean }, command: Command) => {
      const pairs = assignments.map(parseAssignment);
      const client = connect(command);
      const stored: SecretInfo[] = [];
      for (const [name, value] of pairs) stored.push(await client.setSecret(name, value));
      if (options.json) printJson(stored);
      else for (const info of stored) process.stdout.write(`${styleFor(process.stdout).green('✓')} Set ${info.name}\n`);
    });

  secrets
    .command('list')
    .description('list the secrets by name, with when each was last set')
    .option('--json', 'print the secrets (names and times) as a JSON array')
    .action(async (options: { json?: boolean }, command: Command) => {
      const list = await connect(command).listSecrets();
      if (options.json) printJson(list);
      else if (list.length === 0) process.stdout.write('No secrets set. Set one with `kiln secrets set NAME=VALUE`.\n');
      else {
        const rows = [...list].sort((a, b) => a.name.localeCompare(b.name)).map((info) => [info.name, relativeTime(info.updatedAt)]);
        process.stdout.write(`${formatTable(['NAME', 'UPDATED'], rows)}\n`);
      }
    });

  secrets
    .command('unset')
    .description('remove a secret')
    .argument('<name>', "the secret's name")
    .option('--json', 'print the result as JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const detail = await connect(command).unsetSecret(name);
      if (options.json) printJson({ removed: name, detail });
      else process.stdout.write(`${styleFor(process.stdout).green('✓')} Removed ${name}\n`);
    });
}

/**
 * "HF_TOKEN=abc=def" -> ["HF_TOKEN", "abc=def"]. An argument without "=" may be a value typed
 * alone, so errors never echo it.
 */
export function parseAssignment(assignment: string): [string, string] {
  const at = assignment.indexOf('=');
  if (at < 0) throw new UsageError('expected NAME=VALUE, but an argument has no "=": e.g. kiln secrets set HF_TOKEN=hf_xxx');
  const name = assignment.slice(0, at);
  if (!ENV_NAME_PATTERN.test(name)) {
    throw new UsageError(`"${name}" is not a valid secret name: use letters, digits and underscores, not starting with a digit`);
  }
  return [name, assignment.slice(at + 1)];
}
