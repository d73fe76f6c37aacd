/**
 * `flotilla doctor`: run on an agent host with the environment its container has (or flags), it
 * checks what a multi-host rollout needs and says what to do about each problem. Exit 0 when
 * nothing failed (warnings allowed), 1 when a check failed, 2 on a usage error.
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { envString, type Env } from '../common/env.js';
import { DEFAULT_AGENT_PORT } from '../protocol/paths.js';
import { EXTERNAL_IP_CHECKS, type ExternalIpCheck } from '../common/network.js';
import type { Finding } from '../doctor/index.js';
import { formatTable } from './table.js';

const DEFAULT_TIMEOUT_MS = 3_000;

interface DoctorFlags {
  managerUrl?: string;
  redisUrl?: string;
  externalIp?: string;
  agentPort?: number;
  timeoutMs?: number;
  json?: boolean;
}

function parsePort(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= 65_535)) throw new InvalidArgumentError('expected a port from 1 to 65535');
  return n;
}

function parseTimeout(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 100 && n <= 60_000)) throw new InvalidArgumentError('expected milliseconds from 100 to 60000');
  return n;
}

const MARK: Record<Finding['status'], string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

export function renderFindings(findings: readonly Finding[]): string {
  const table = formatTable(
    [{ header: 'STATUS' }, { header: 'CHECK' }, { header: 'FOUND' }],
    findings.map((f) => [MARK[f.status], f.check, f.summary]),
  );
  const fixes = findings.filter((f) => f.fix !== undefined).map((f) => `${MARK[f.status]} ${f.check}: ${f.fix}`);
  const failed = findings.filter((f) => f.status === 'fail').length;
  const warned = findings.filter((f) => f.status === 'warn').length;
  const verdict = failed > 0 ? `${failed} problem${failed === 1 ? '' : 's'} found` : warned > 0 ? `no problem, ${warned} warning${warned === 1 ? '' : 's'}` : 'all checks passed';
  return [table, ...(fixes.length > 0 ? ['', 'What to do:', ...fixes.map((l) => `  ${l}`)] : []), '', verdict].join('\n');
}

function externalIpCheck(env: Env): ExternalIpCheck {
  const v = envString(env, 'FLOTILLA_EXTERNAL_IP_CHECK');
  return v !== undefined && (EXTERNAL_IP_CHECKS as readonly string[]).includes(v) ? (v as ExternalIpCheck) : 'auto';
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description("check this agent host's setup: Redis reach and password, manager reach, that the manager reaches back to EXTERNAL_IP, clock skew; says what to do")
    .option('--manager-url <url>', 'the manager (default: $CENTRAL_MANAGER_URL, else $FLOTILLA_URL)')
    .option('--redis-url <url>', 'Redis (default: $REDIS_URL)')
    .option('--external-ip <ip>', 'the address this host advertises (default: $EXTERNAL_IP)')
    .option('--agent-port <port>', `the container's port (default: $AGENT_PORT, else ${DEFAULT_AGENT_PORT})`, parsePort)
    .option('--timeout-ms <ms>', `how long each check waits (default ${DEFAULT_TIMEOUT_MS})`, parseTimeout)
    .option('--json', 'print the findings as JSON')
    .action(async (flags: DoctorFlags) => {
      const env = process.env;
      const agentPortEnv = envString(env, 'AGENT_PORT');
      if (flags.agentPort === undefined && agentPortEnv !== undefined && !/^\d+$/.test(agentPortEnv)) {
        console.error(`error: AGENT_PORT=${agentPortEnv} is not a port`);
        process.exitCode = 2;
        return;
      }
      const { runDoctor } = await import('../doctor/index.js');
      const findings = await runDoctor({
        managerUrl: flags.managerUrl ?? envString(env, 'CENTRAL_MANAGER_URL') ?? envString(env, 'FLOTILLA_URL'),
        redisUrl: flags.redisUrl ?? envString(env, 'REDIS_URL'),
        externalIp: flags.externalIp ?? envString(env, 'EXTERNAL_IP'),
        agentPort: flags.agentPort ?? (agentPortEnv === undefined ? DEFAULT_AGENT_PORT : Number(agentPortEnv)),
        bindAddress: envString(env, 'FLOTILLA_BIND_ADDRESS') ?? '0.0.0.0',
        token: envString(env, 'FLOTILLA_TOKEN'),
        externalIpCheck: externalIpCheck(env),
        timeoutMs: flags.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        ...caOf(env),
        ...(envString(env, 'FLOTILLA_JOIN_TOKEN') === undefined ? {} : { joinToken: envString(env, 'FLOTILLA_JOIN_TOKEN')! }),
      });
      console.log(flags.json === true ? JSON.stringify({ findings, ok: !findings.some((f) => f.status === 'fail') }, null, 2) : renderFindings(findings));
      if (findings.some((f) => f.status === 'fail')) process.exitCode = 1;
    });
}

/** The CA an https manager is trusted with: FLOTILLA_CA_FILE (as the CLI), else the container's FLOTILLA_TLS_CA. */
function caOf(env: NodeJS.ProcessEnv): { caPem?: string } {
  const file = envString(env, 'FLOTILLA_CA_FILE') ?? envString(env, 'FLOTILLA_TLS_CA');
  if (file === undefined) return {};
  try {
    return { caPem: readFileSync(file, 'utf8') };
  } catch {
    // Unreadable: the TLS check then says there is no CA to trust the manager with.
    return {};
  }
}
