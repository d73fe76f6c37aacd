/**
 * CPU time of another process, read from /proc/<pid>/stat (utime + stime, all its threads), so a
 * benchmark can say how many cores a process used over a window without instrumenting it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of utime/stime (`getconf CLK_TCK`, almost always 100). */
export const CLK_TCK = readClockTicks();

function readClockTicks(): number {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // fall through
  }
  return 100;
}

/** Seconds of CPU (user + system) `pid` has used since it started. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: parse after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return (utime + stime) / CLK_TCK;
}

/** Cores used by one process between mark() and cores(): CPU seconds per wall second. */
export class CpuMeter {
  private cpu0 = 0;
  private wall0 = 0;

  constructor(
    readonly label: string,
    readonly pid: number,
  ) {}

  mark(): this {
    this.cpu0 = cpuSeconds(this.pid);
    this.wall0 = performance.now();
    return this;
  }

  /** CPU seconds used since mark(). */
  cpuSeconds(): number {
    return cpuSeconds(this.pid) - this.cpu0;
  }

  /** Cores since mark(); with `remark` the next reading starts from now. */
  cores(remark = false): number {
    const cpu = cpuSeconds(this.pid);
    const wall = performance.now();
    const cores = (cpu - this.cpu0) / Math.max(1e-3, (wall - this.wall0) / 1_000);
    if (remark) {
      this.cpu0 = cpu;
      this.wall0 = wall;
    }
    return cores;
  }
}

/**
 * CPU seconds the whole machine has spent running processes (user, nice, system; all CPUs), from
 * /proc/stat. Interrupt time is left out: on loopback most of it is our own traffic's softirq,
 * which the kernel charges to no process, so it would look like someone else's load.
 */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system) / CLK_TCK;
}

/**
 * CPU the machine spent outside the given processes over a window: other load that would
 * distort the figures (another test run, a build). Cores, like CpuMeter.
 */
export class ForeignLoadMeter {
  private busy0 = 0;
  private ours0 = 0;
  private wall0 = 0;

  constructor(private readonly pids: () => number[]) {}

  private ours(): number {
    let sum = 0;
    for (const pid of this.pids()) {
      try {
        sum += cpuSeconds(pid);
      } catch {
        // a process that ended: its time is no longer in the total either way
      }
    }
    return sum;
  }

  mark(): this {
    this.busy0 = machineBusySeconds();
    this.ours0 = this.ours();
    this.wall0 = performance.now();
    return this;
  }

  cores(): number {
    const seconds = Math.max(1e-3, (performance.now() - this.wall0) / 1_000);
    return Math.max(0, (machineBusySeconds() - this.busy0 - (this.ours() - this.ours0)) / seconds);
  }
}
