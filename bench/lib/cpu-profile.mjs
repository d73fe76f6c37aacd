/**
 * Preloaded with `--import` (through NODE_OPTIONS, which does not take --cpu-prof) to write a V8
 * CPU profile of a whole process to $BENCH_CPU_PROFILE_DIR/<pid>.cpuprofile when it exits.
 * Open it in Chrome DevTools (Performance) or VS Code. Used by bench/messaging.bench.ts.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.BENCH_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  // A same-thread session answers synchronously, so this works inside 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
