import type { AgentDefinition, AnyAgentDefinition } from '../sdk/types.js';

export class DuplicateAgentTypeError extends Error {
  override readonly name = 'DuplicateAgentTypeError';
}

/** The agent types a container serves, by type name. */
export class AgentTypeRegistry {
  private readonly types = new Map<string, AgentDefinition<unknown, Record<string, unknown>>>();

  constructor(definitions: readonly AnyAgentDefinition[] = []) {
    for (const d of definitions) this.add(d);
  }

  add(definition: AnyAgentDefinition): void {
    if (this.types.has(definition.type)) throw new DuplicateAgentTypeError(`agent type ${definition.type} is defined twice`);
    this.types.set(definition.type, definition as AgentDefinition<unknown, Record<string, unknown>>);
  }

  get(type: string): AgentDefinition<unknown, Record<string, unknown>> | undefined {
    return this.types.get(type);
  }

  /** Sorted, for registration. */
  names(): string[] {
    return [...this.types.keys()].sort();
  }
}
