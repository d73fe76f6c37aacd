/**
 * `flotilla doctor`: run on a host (an agent host usually) with the same environment as its
 * Flotilla process; prints each check with what to do about a failure. Exit 0 when nothing failed
 * (warnings allowed), 1 when a check failed.
 */
import type { Command } from 'commander';
import { runDoctor, type Finding } from '../doctor/index.js';
import { EXIT_API_ERROR } from './errors.js';

const MARK: Record<Finding['status'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skipped: '--  ' };

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check this host against the cluster: Redis reach, AUTH and PING, the manager, clocks, EXTERNAL_IP (reads REDIS_URL, CENTRAL_MANAGER_URL, EXTERNAL_IP)')
    .option('--json', 'print the findings as JSON')
    .action(async (flags: { json?: boolean }) => {
      const findings = await runDoctor(process.env);
      const failed = findings.some((f) => f.status === 'fail');
      if (flags.json === true) {
        console.log(JSON.stringify({ ok: !failed, findings }, null, 2));
      } else {
        for (const f of findings) {
          console.log(`${MARK[f.status]} ${f.check}: ${f.message}`);
          if (f.fix !== undefined) console.log(`     fix: ${f.fix}`);
        }
        console.log(failed ? 'some checks failed (see fix: above)' : 'no problem found');
      }
      if (failed) process.exitCode = EXIT_API_ERROR;
    });
}
