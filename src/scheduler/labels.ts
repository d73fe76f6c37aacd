/**
 * Label constraints: the small language of Swarm's placement constraints, over a container's
 * `labels` map. `key == value` and `key != value` compare (`=` is accepted for `==`); a bare
 * `key` requires the label to exist, `!key` requires it to be absent. Values with spaces or
 * operator characters are written in quotes: `region == "us east"`.
 */
import { LabelConstraintError } from './errors.js';
import { ownString } from './own.js';

export type LabelOperator = '==' | '!=' | 'exists' | 'absent';

export interface LabelConstraint {
  op: LabelOperator;
  key: string;
  /** Only for `==` and `!=`. */
  value?: string;
}

/**
 * Swarm users write `node.labels.zone == a`; our labels are flat (`zone`), so that prefix is
 * looked through when no label carries the full key.
 */
export const SWARM_LABEL_PREFIX = 'node.labels.';

const OPERATOR_CHARS = /[=!]/;
const OPERATOR_RUN = /^[=!]+/;
const KEY_FORBIDDEN = /[\s=!"']/;
const UNQUOTED_VALUE_FORBIDDEN = /[\s=!"']/;
const OPERATORS: Readonly<Record<string, '==' | '!='>> = { '==': '==', '=': '==', '!=': '!=' };
const USAGE = 'write "key == value", "key != value", "key" (exists) or "!key" (absent)';

export function parseLabelConstraint(expression: string, field?: string): LabelConstraint {
  const fail = (problem: string): never => {
    throw new LabelConstraintError(expression, problem, field);
  };
  const text = expression.trim();
  if (text === '') return fail(`it is empty; ${USAGE}`);

  if (text.startsWith('!') && !text.startsWith('!=')) {
    const key = text.slice(1).trim();
    if (key === '') return fail('"!" names no label after it');
    if (OPERATOR_CHARS.test(key)) return fail(`"!" negates a bare key only; to compare, write "key != value"`);
    checkKey(key, fail);
    return { op: 'absent', key };
  }

  const at = text.search(OPERATOR_CHARS);
  if (at === -1) {
    checkKey(text, fail);
    return { op: 'exists', key: text };
  }
  const key = text.slice(0, at).trim();
  const run = OPERATOR_RUN.exec(text.slice(at))?.[0] ?? '';
  const op = ownString(OPERATORS, run);
  if (op === undefined) return fail(`unknown operator "${run}"; use ==, != or =`);
  if (key === '') return fail(`no label key before "${run}"`);
  checkKey(key, fail);
  const value = parseValue(text.slice(at + run.length).trim(), run, fail);
  return { op, key, value };
}

function checkKey(key: string, fail: (problem: string) => never): void {
  if (KEY_FORBIDDEN.test(key)) {
    fail(`the key "${key}" contains a space, quote or operator character; ${USAGE}`);
  }
}

function parseValue(raw: string, op: string, fail: (problem: string) => never): string {
  if (raw === '') return fail(`no value after "${op}"; to require only that the label exists, write the key alone`);
  const quote = raw[0];
  if (quote === '"' || quote === "'") {
    if (raw.length < 2 || !raw.endsWith(quote)) return fail(`the value ${raw} has no closing ${quote}`);
    const inner = raw.slice(1, -1);
    if (inner.includes(quote)) return fail(`the value ${raw} has a ${quote} inside its quotes`);
    return inner;
  }
  if (UNQUOTED_VALUE_FORBIDDEN.test(raw)) {
    return fail(`the value "${raw}" contains a space, quote or operator character; put it in quotes if that is meant`);
  }
  return raw;
}

/** The canonical text of a constraint, as error messages show it. */
export function formatLabelConstraint(c: LabelConstraint): string {
  if (c.op === 'exists') return c.key;
  if (c.op === 'absent') return `!${c.key}`;
  const value = c.value ?? '';
  const shown = value === '' || UNQUOTED_VALUE_FORBIDDEN.test(value) ? JSON.stringify(value) : value;
  return `${c.key} ${c.op} ${shown}`;
}

/**
 * `!=` also matches a container without the label, as in Swarm: "not in zone b" holds for a
 * container that declares no zone. Add a bare `zone` to require the label as well.
 */
export function matchesLabel(labels: Readonly<Record<string, string>>, c: LabelConstraint): boolean {
  const actual = labelValue(labels, c.key);
  switch (c.op) {
    case 'exists':
      return actual !== undefined;
    case 'absent':
      return actual === undefined;
    case '==':
      return actual === c.value;
    case '!=':
      return actual !== c.value;
  }
}

/** The label a constraint's key refers to (looking through the Swarm prefix). */
export function labelValue(labels: Readonly<Record<string, string>>, key: string): string | undefined {
  const direct = ownString(labels, key);
  if (direct !== undefined || !key.startsWith(SWARM_LABEL_PREFIX)) return direct;
  return ownString(labels, key.slice(SWARM_LABEL_PREFIX.length));
}
