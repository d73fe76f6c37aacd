/**
 * The filters every strategy runs first. A container either passes them all or is turned down
 * with the first one it fails, in the order of REJECTION_CODES: the cheapest and most telling
 * checks come first, so a cordoned container is reported as cordoned, not as full.
 */
import type { ContainerRecord } from '../protocol/container.js';
import { declaredAmount, fits, formatAmount, maxAgentsOf, usedAmount } from './capacity.js';
import type { CompiledRequest } from './compile.js';
import { labelValue, matchesLabel } from './labels.js';
import { ownValue } from './own.js';
import type { Rejection, RejectionCode } from './rejection.js';
import type { ResourceAmounts } from './request.js';

/**
 * `agents` is the container's current agent count; `used` is the whole fleet's used-resources
 * record, read only when the request needs resources (most do not).
 */
export function rejectionFor(
  c: ContainerRecord,
  req: CompiledRequest,
  agents: number,
  used: Readonly<Record<string, ResourceAmounts>> | undefined,
  excluded?: ReadonlySet<string>,
): Rejection | undefined {
  return firstFailure(c, req, agents, used, excluded, true);
}

/**
 * The same filters without describing the failure: placing runs this over the whole fleet and
 * writes the reasons out only when nothing fits (building them for thousands of containers that
 * merely lost cost a third of a placement).
 */
export function isEligible(
  c: ContainerRecord,
  req: CompiledRequest,
  agents: number,
  used: Readonly<Record<string, ResourceAmounts>> | undefined,
  excluded?: ReadonlySet<string>,
): boolean {
  return firstFailure(c, req, agents, used, excluded, false) === undefined;
}

/** Stands for every rejection when `describe` is off. */
const INELIGIBLE: Rejection = Object.freeze({ containerId: '', code: 'excluded', summary: '', detail: '' });

function firstFailure(
  c: ContainerRecord,
  req: CompiledRequest,
  agents: number,
  used: Readonly<Record<string, ResourceAmounts>> | undefined,
  excluded: ReadonlySet<string> | undefined,
  describe: boolean,
): Rejection | undefined {
  const { agentType } = req.request;
  if (excluded?.has(c.id)) return describe ? reject(c, 'excluded', 'excluded (being moved off)') : INELIGIBLE;
  if (c.state !== 'active') return describe ? reject(c, 'down', 'down', 'its lease has lapsed') : INELIGIBLE;
  if (c.availability !== 'schedulable') {
    return describe ? reject(c, c.availability, c.availability, `${c.availability}: it takes no new agents`) : INELIGIBLE;
  }
  if (!c.agentTypes.includes(agentType)) {
    if (!describe) return INELIGIBLE;
    return reject(c, 'type_not_served', `does not serve ${agentType}`, `serves ${c.agentTypes.length > 0 ? c.agentTypes.join(', ') : 'no agent types'}`);
  }
  const max = maxAgentsOf(c);
  if (agents >= max) return describe ? reject(c, 'full', `full (${agents}/${max} agents)`) : INELIGIBLE;
  for (const label of req.labels) {
    if (!matchesLabel(c.labels, label)) {
      if (!describe) return INELIGIBLE;
      const value = labelValue(c.labels, label.key);
      const actual = value === undefined ? `no label ${label.key}` : `${label.key} is ${JSON.stringify(value)}`;
      return reject(c, 'label', `fails label ${label.text}`, `fails label ${label.text} (${actual})`);
    }
  }
  for (const capability of req.capabilities) {
    if (!c.capabilities.includes(capability)) return describe ? reject(c, 'capability', `lacks capability ${capability}`) : INELIGIBLE;
  }
  for (const [key, min] of req.minResources) {
    const has = declaredAmount(c, key);
    if (!fits(has, min)) {
      if (!describe) return INELIGIBLE;
      return reject(c, 'min_resources', `has under ${formatAmount(min)} ${key}`, `declares ${formatAmount(has)} ${key}, at least ${formatAmount(min)} required`);
    }
  }
  const usedHere = req.requirements.length > 0 ? ownValue(used, c.id) : undefined;
  for (const [key, need] of req.requirements) {
    const free = declaredAmount(c, key) - usedAmount(usedHere, key);
    if (!fits(free, need)) {
      if (!describe) return INELIGIBLE;
      return reject(
        c,
        'insufficient_resources',
        `has under ${formatAmount(need)} ${key} free`,
        `${formatAmount(Math.max(0, free))} of ${formatAmount(declaredAmount(c, key))} ${key} free, ${formatAmount(need)} required`,
      );
    }
  }
  return undefined;
}

function reject(c: ContainerRecord, code: RejectionCode, summary: string, detail = summary): Rejection {
  return { containerId: c.id, code, summary, detail };
}
