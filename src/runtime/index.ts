/** The agents' side of a container (hosting, turns, send/publish). */
export { AgentRuntime, type AgentRuntimeOptions, type RuntimeState, INBOX_BLOCK_MS, SWEEP_INTERVAL_MS } from './agent-runtime.js';
export { AgentTypeRegistry, DuplicateAgentTypeError } from './registry.js';
export { turnMessageId, newMessageId } from './message-ids.js';
