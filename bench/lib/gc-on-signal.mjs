/**
 * Preloaded with `--import` (through NODE_OPTIONS) into a process whose memory a benchmark
 * measures: SIGUSR2 runs two full garbage collections, so that RSS read afterwards is what the
 * process retains rather than garbage V8 has not collected yet. It changes nothing else.
 * Used by bench/messaging.bench.ts (memory per idle agent).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
process.on('SIGUSR2', () => {
  gc();
  gc();
});
