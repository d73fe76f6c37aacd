import { isSafeName } from '../protocol/names.js';
import type { AgentDefinition } from './types.js';

export class InvalidAgentDefinitionError extends Error {
  override readonly name = 'InvalidAgentDefinitionError';
}

/** Declares an agent type. Checks the definition at load time, so mistakes show at start-up. */
export function defineAgent<State = unknown, Config = Record<string, unknown>, Message = unknown, Result = unknown>(
  definition: AgentDefinition<State, Config, Message, Result>,
): AgentDefinition<State, Config, Message, Result> {
  if (typeof definition !== 'object' || definition === null) throw new InvalidAgentDefinitionError('defineAgent needs an object');
  if (typeof definition.type !== 'string' || !isSafeName(definition.type)) {
    throw new InvalidAgentDefinitionError(`agent type ${JSON.stringify(definition.type)} is not a valid name (letters, digits, ".", "_", "-")`);
  }
  if (typeof definition.onMessage !== 'function') throw new InvalidAgentDefinitionError(`agent type ${definition.type}: onMessage must be a function`);
  return Object.freeze({ ...definition });
}
