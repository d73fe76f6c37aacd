/** `flotilla/sdk`: what agent authors import. */
export { defineAgent, InvalidAgentDefinitionError } from './define-agent.js';
export type { AgentContext, AgentDefinition, AnyAgentDefinition, InitContext, JsonValue, SendOptions } from './types.js';
export { AgentCallError, SendTimeoutError } from './errors.js';
