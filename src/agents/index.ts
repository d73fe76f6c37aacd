/** Built-in agent types and the loader that adds the ones named in `FLOTILLA_AGENT_MODULES`. */
export { BUILTIN_AGENTS } from './builtins.js';
export { echoAgent } from './echo.js';
export { llmAgent } from './llm.js';
export { httpAgent } from './http.js';
export { groupChatAgent } from './group-chat.js';
export type { EchoResult, EchoState } from './echo.js';
export type { LlmResult, LlmState } from './llm.js';
export type { GroupChatResult, GroupChatState, StoppedBy } from './group-chat.js';
export type { TranscriptEntry } from './group-chat-transcript.js';
export { AgentConfigError } from './config-check.js';
export { AgentModuleError, AGENT_MODULES_ENV, agentModulesFromEnv, loadAgentTypes } from './load.js';
