#!/usr/bin/env node
/**
 * The `flotilla` command. The roles (`manager`, `container`, `dev`) are imported only when run,
 * so the operator commands start without loading the server code.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../common/version.js';
import { registerClusterCommands } from './cluster-commands.js';
import { registerAgentCommands } from './agent-commands.js';
import { registerMessageCommands } from './message-commands.js';
import { registerObservabilityCommands } from './observability-commands.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerKeyCommands } from './key-commands.js';
import { registerWireguardCommands } from './wireguard-commands.js';
import { EXIT_USAGE } from './errors.js';

// `flotilla events | head` closes our stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('flotilla')
  .description('Run AI agents across many machines: a central manager, agent containers, one shared Redis.')
  .version(VERSION)
  // Commander exits with 1 on a usage error, which our scripts read as "the manager refused";
  // we take over its exits (set before the subcommands exist, which inherit it) to return 2.
  .exitOverride()
  .showHelpAfterError('(add --help for usage)');

program
  .command('manager')
  .description('run the central manager (REST API, control loops); configured by REDIS_URL, EXTERNAL_IP, CLUSTER_PORT')
  .action(async () => (await import('../manager/run.js')).runManagerCommand());
program
  .command('container')
  .description('run an agent container that joins CENTRAL_MANAGER_URL; configured by EXTERNAL_IP, AGENT_PORT, REDIS_URL')
  .action(async () => (await import('../container/run.js')).runContainerCommand());
program
  .command('dev')
  .description('run a manager and one container in one process with an in-memory store (no Redis needed)')
  .action(async () => (await import('../dev/run.js')).runDevCommand());

registerClusterCommands(program);
registerAgentCommands(program);
registerMessageCommands(program);
registerObservabilityCommands(program);
registerDoctorCommand(program);
registerKeyCommands(program);
registerWireguardCommands(program);

try {
  await program.parseAsync();
} catch (err) {
  // The cluster commands and the roles report their own expected errors; what is left here is
  // commander's (already printed: a usage error, or the help / version asked for) or a bug.
  if (!(err instanceof CommanderError)) throw err;
  process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
}
