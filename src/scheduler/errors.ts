import type { Rejection } from './rejection.js';
import type { Strategy } from './strategy.js';

/** The request itself is wrong (a malformed label, a negative amount): a 400, not a full fleet. */
export class InvalidPlacementRequestError extends Error {
  override readonly name: string = 'InvalidPlacementRequestError';
  readonly code: string = 'invalid_placement_request';
  constructor(
    message: string,
    /** Where in the request, in its own field names (`constraints.labels[1]`). */
    readonly field?: string,
  ) {
    super(message);
  }
}

export class LabelConstraintError extends InvalidPlacementRequestError {
  override readonly name = 'LabelConstraintError';
  override readonly code = 'invalid_label_constraint';
  constructor(
    readonly expression: string,
    readonly problem: string,
    field?: string,
  ) {
    super(`label constraint ${JSON.stringify(expression)} is malformed: ${problem}`, field);
  }
}

export interface NoPlacementDetails {
  agentType: string;
  strategy: Strategy;
  /** Set when the failure is about the container the request insisted on. */
  preferredContainer?: string;
  /** How many containers were considered. */
  candidates: number;
  /** Why each one was turned down: the first filter it failed, one entry per container. */
  rejections: Rejection[];
}

/**
 * Nothing can take the agent. The message is for people (it summarizes why, grouped); `details`
 * (also `cause`) is for code and for an API body that lists every container.
 */
export class NoPlacementError extends Error {
  override readonly name = 'NoPlacementError';
  readonly code = 'no_placement';
  constructor(
    message: string,
    readonly details: NoPlacementDetails,
  ) {
    super(message, { cause: details });
  }
}
