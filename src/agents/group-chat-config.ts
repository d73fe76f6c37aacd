/** The `group-chat` agent's config (`agent_config` at deploy), checked once on first use. */
import { AgentConfigError, ConfigReader, parsedOnce, type RawConfig } from './config-check.js';

export const DEFAULT_MAX_TURNS = 10;
export const MAX_MAX_TURNS = 1_000;
export const MAX_MEMBERS = 100;
export const GROUP_CHAT_MODES = ['round_robin', 'selector'] as const;
export type GroupChatMode = (typeof GROUP_CHAT_MODES)[number];
/** What each member is sent: the whole transcript so far, or only the last message. */
export const GROUP_CHAT_CONTEXTS = ['transcript', 'last_message'] as const;
export type GroupChatContext = (typeof GROUP_CHAT_CONTEXTS)[number];

export interface GroupChatSettings {
  members: string[];
  mode: GroupChatMode;
  maxTurns: number;
  selector: string | undefined;
  termination: string | undefined;
  context: GroupChatContext;
  /** Passed to each `send`; the runtime's default (30 s) when unset. LLM members may need more. */
  memberTimeoutMs: number | undefined;
}

/** `selfId`: the group chat's own id, which must not be a member (it would wait on itself). */
export function parseGroupChatConfig(config: RawConfig | null | undefined, selfId: string): GroupChatSettings {
  const settings = parseOnce(config);
  // A group chat handles one message at a time, so a send to itself could only time out.
  if (settings.members.includes(selfId) || settings.selector === selfId) {
    throw new AgentConfigError(`group-chat agent config: ${selfId} cannot be its own member or selector`);
  }
  return settings;
}

const parseOnce = parsedOnce((config): GroupChatSettings => {
  const c: ConfigReader = new ConfigReader('group-chat agent config', config);
  const raw = c.raw('members');
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_MEMBERS) {
    c.fail('members', `a list of 1 to ${MAX_MEMBERS} agent ids (type/name)`);
  }
  const members = raw.map((m, i) => c.agentId(`members[${i}]`, m));
  const duplicate = members.find((m, i) => members.indexOf(m) !== i);
  if (duplicate !== undefined) throw new AgentConfigError(`group-chat agent config: "members" lists ${duplicate} twice`);

  const selector = c.has('selector') ? c.agentId('selector') : undefined;
  // A selector given without a mode means selector mode: that is what anyone writing it wants.
  const mode = c.oneOf('mode', GROUP_CHAT_MODES, selector === undefined ? 'round_robin' : 'selector');
  if (mode === 'selector' && selector === undefined) {
    throw new AgentConfigError('group-chat agent config: mode "selector" needs "selector": the id of an llm agent that picks the next speaker');
  }
  const termination = c.optionalString('termination');
  if (termination === '') c.fail('termination', 'a non-empty string (e.g. "TERMINATE")');
  return {
    members,
    mode,
    maxTurns: c.number('max_turns', DEFAULT_MAX_TURNS, { min: 1, max: MAX_MAX_TURNS, integer: true }),
    selector,
    termination,
    context: c.oneOf('context', GROUP_CHAT_CONTEXTS, 'transcript'),
    memberTimeoutMs: c.optionalNumber('member_timeout_ms', { min: 1, max: 60 * 60_000, integer: true }),
  };
});
