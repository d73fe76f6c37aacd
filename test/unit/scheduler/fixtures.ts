/** Small fleets for the scheduler's tests. */
import assert from 'node:assert/strict';
import type { ContainerRecord } from '../../../src/protocol/container.js';
import { place, type NoPlacementError, type PlacementInput, type PlacementRequest } from '../../../src/scheduler/index.js';

export function container(id: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    name: id,
    hostAddress: `host-${id}`,
    apiPort: 9000,
    capabilities: [],
    labels: {},
    resources: {},
    metadata: {},
    agentTypes: ['echo', 'llm'],
    state: 'active',
    availability: 'schedulable',
    epoch: 1,
    leaseTimeoutMs: 3_000,
    leaseIntervalMs: 1_000,
    registeredAtMs: 0,
    lastRenewalMs: 0,
    downAtMs: null,
    ...over,
  };
}

export function request(over: Partial<PlacementRequest> = {}): PlacementRequest {
  return { agentType: 'echo', strategy: 'least_loaded', ...over };
}

type Input = Omit<PlacementInput, 'load' | 'request'> & { load?: PlacementInput['load']; request?: Partial<PlacementRequest> };

function toInput(input: Input): PlacementInput {
  return { ...input, load: input.load ?? {}, request: request(input.request) };
}

/** Places and asserts it worked. */
export function placed(input: Input): { containerId: string; reason: string; cursor: string | undefined } {
  const result = place(toInput(input));
  if (!result.ok) assert.fail(`expected a placement, got: ${result.error.message}`);
  return result;
}

/** Places and asserts nothing fit. */
export function refused(input: Input): NoPlacementError {
  const result = place(toInput(input));
  if (result.ok) assert.fail(`expected no placement, got ${result.containerId} (${result.reason})`);
  return result.error;
}
