/** The `llm` agent's config (`agent_config` at deploy), checked once on first use. */
import { AgentConfigError, ConfigReader, ENV_NAME_RE, parsedOnce } from './config-check.js';

export const DEFAULT_LLM_BASE_URL = 'https://api.openai.com/v1';
/** Local models on modest hardware can take tens of seconds for one answer. */
export const DEFAULT_LLM_TIMEOUT_MS = 60_000;
export const MAX_LLM_TIMEOUT_MS = 60 * 60_000;
export const DEFAULT_API_KEY_ENV = 'OPENAI_API_KEY';
/** Messages (user and assistant turns) kept in state; older ones are dropped in pairs. */
export const DEFAULT_MAX_HISTORY = 50;
export const MAX_MAX_HISTORY = 10_000;

export interface LlmSettings {
  baseUrl: string;
  model: string;
  systemPrompt: string | undefined;
  temperature: number | undefined;
  maxTokens: number | undefined;
  timeoutMs: number;
  /** The name of the variable that holds the key; the key itself is read at each call. */
  apiKeyEnv: string;
  /** 0: keep no history (every message stands alone, e.g. for a group-chat selector). */
  maxHistory: number;
}

export const parseLlmConfig = parsedOnce((config): LlmSettings => {
  const c: ConfigReader = new ConfigReader('llm agent config', config);
  const apiKeyEnv = c.optionalString('api_key_env') ?? DEFAULT_API_KEY_ENV;
  if (!ENV_NAME_RE.test(apiKeyEnv)) {
    // Never echo the value: the usual mistake here is pasting the key itself.
    throw new AgentConfigError('llm agent config: "api_key_env" must be the NAME of an environment variable (e.g. OPENAI_API_KEY), not the key');
  }
  return {
    baseUrl: c.url('base_url', DEFAULT_LLM_BASE_URL),
    model: c.requiredString('model', 'a model name, e.g. gpt-4o-mini or llama3.1'),
    systemPrompt: c.optionalString('system_prompt'),
    temperature: c.optionalNumber('temperature', { min: 0, max: 2 }),
    maxTokens: c.optionalNumber('max_tokens', { min: 1, max: 10_000_000, integer: true }),
    timeoutMs: c.number('timeout_ms', DEFAULT_LLM_TIMEOUT_MS, { min: 1, max: MAX_LLM_TIMEOUT_MS, integer: true }),
    apiKeyEnv,
    maxHistory: c.number('max_history', DEFAULT_MAX_HISTORY, { min: 0, max: MAX_MAX_HISTORY, integer: true }),
  };
});
