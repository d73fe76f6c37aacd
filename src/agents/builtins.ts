/** The agent types every container serves, whatever else `FLOTILLA_AGENT_MODULES` adds. */
import type { AgentDefinition } from '../sdk/index.js';
import { echoAgent } from './echo.js';
import { groupChatAgent } from './group-chat.js';
import { httpAgent } from './http.js';
import { llmAgent } from './llm.js';

export const BUILTIN_AGENTS: AgentDefinition[] = [echoAgent, llmAgent, httpAgent, groupChatAgent];
