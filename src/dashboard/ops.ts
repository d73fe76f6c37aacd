/**
 * Feedback for actions that take a while (deploy, migrate, cordon, drain): one line each in the
 * `#ops` area above the page, kept across view changes, updated while the action runs, and
 * cleared a while after it ends.
 */
import { esc } from './format.js';

/** How long a finished action's line stays. */
export const OP_LINE_KEEP_MS = 15_000;

export type OpState = 'running' | 'done' | 'error';

export interface OpLine {
  update(text: string, state?: OpState): void;
}

export function startOp(text: string): OpLine {
  const host = document.getElementById('ops')!;
  const line = document.createElement('div');
  line.className = 'op-line';
  line.setAttribute('role', 'status');
  host.prepend(line);
  const update = (next: string, state: OpState = 'running'): void => {
    line.className = `op-line ${state}`;
    line.innerHTML = esc(next);
    if (state !== 'running') setTimeout(() => line.remove(), OP_LINE_KEEP_MS);
  };
  update(text);
  return { update };
}
