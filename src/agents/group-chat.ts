/**
 * `group-chat`: runs a task as a conversation among member agents (which may live on any host),
 * round robin or with an LLM selector picking each speaker, until a turn limit or a termination
 * word. Members get `{ content, from }` (`content`: the transcript so far, or only the last
 * message with `context: "last_message"`; `from`: who said the last message), so an `llm` agent
 * is a member as it is. The reply is `{ transcript, turns, stopped_by }`.
 *
 * A member whose send fails fails the task (the sender gets which member and turn); a selector
 * that fails or answers unclearly only costs its pick: round robin chooses, with a warning.
 */
import type { AgentContext, SendOptions } from '../sdk/index.js';
import { defineAgent } from '../sdk/index.js';
import { parseGroupChatConfig, type GroupChatSettings } from './group-chat-config.js';
import { parseSelection, selectorPrompt } from './group-chat-selector.js';
import { renderTranscript, type TranscriptEntry } from './group-chat-transcript.js';
import { describeValue, messageContent, replyText, snippet } from './text.js';

/** Text kept per field of the last task's summary in state: state is saved every turn. */
export const SUMMARY_MAX_CHARS = 500;
/** Who said the task when the runtime does not know the sender. */
const DEFAULT_TASK_SPEAKER = 'user';

export type StoppedBy = 'max_turns' | 'termination';

export interface GroupChatResult {
  transcript: TranscriptEntry[];
  turns: number;
  stopped_by: StoppedBy;
}

export interface GroupChatState {
  /** Tasks completed by this agent. */
  tasks: number;
  /** A bounded summary of the last task (the full transcript went to its sender). */
  last: { task: string; turns: number; stopped_by: StoppedBy; last_speaker: string; last_content: string } | null;
}

type Ctx = AgentContext<GroupChatState, Record<string, unknown>>;

/** The member after `lastIndex` in config order (the first when nobody has spoken yet). */
function roundRobin(settings: GroupChatSettings, lastIndex: number): string {
  return settings.members[(lastIndex + 1) % settings.members.length] as string;
}

async function nextSpeaker(ctx: Ctx, settings: GroupChatSettings, transcript: TranscriptEntry[], lastIndex: number, sendOptions: SendOptions): Promise<string> {
  const fallback = roundRobin(settings, lastIndex);
  if (settings.mode !== 'selector' || settings.selector === undefined) return fallback;
  let answer: unknown;
  try {
    answer = await ctx.send(settings.selector, { content: selectorPrompt(settings.members, transcript), from: ctx.id }, sendOptions);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    ctx.log.warn({ err, selector: settings.selector, fallback }, `selector ${settings.selector} failed; round robin picks ${fallback}`);
    return fallback;
  }
  const picked = parseSelection(replyText(answer), settings.members);
  if (picked === undefined) {
    ctx.log.warn({ selector: settings.selector, answer: snippet(replyText(answer), 200), fallback }, `selector answer names no single member; round robin picks ${fallback}`);
    return fallback;
  }
  return picked;
}

export const groupChatAgent = defineAgent<GroupChatState, Record<string, unknown>, unknown, GroupChatResult>({
  type: 'group-chat',
  description: 'A conversation among member agents, round robin or LLM-selected, with a turn limit and a termination word.',
  init: () => ({ tasks: 0, last: null }),
  async onMessage(message, ctx) {
    const settings = parseGroupChatConfig(ctx.config, ctx.id);
    const task = messageContent(message);
    if (task === undefined) throw new Error(`${ctx.id}: a task is a string or { content: string }; got ${describeValue(message)}`);
    const sendOptions: SendOptions = settings.memberTimeoutMs === undefined ? {} : { timeoutMs: settings.memberTimeoutMs };

    const transcript: TranscriptEntry[] = [{ speaker: ctx.message.from || DEFAULT_TASK_SPEAKER, content: task }];
    let lastIndex = -1;
    let stoppedBy: StoppedBy = 'max_turns';
    for (let turn = 1; turn <= settings.maxTurns; turn++) {
      ctx.signal.throwIfAborted();
      const speaker = await nextSpeaker(ctx, settings, transcript, lastIndex, sendOptions);
      const last = transcript[transcript.length - 1] as TranscriptEntry;
      const content = settings.context === 'transcript' ? renderTranscript(transcript) : last.content;
      let reply: unknown;
      try {
        reply = await ctx.send(speaker, { content, from: last.speaker }, sendOptions);
      } catch (err) {
        throw new Error(`${ctx.id}: turn ${turn}: ${speaker} failed: ${(err as Error).message}`, { cause: err });
      }
      const text = replyText(reply);
      transcript.push({ speaker, content: text });
      lastIndex = settings.members.indexOf(speaker);
      if (settings.termination !== undefined && text.includes(settings.termination)) {
        stoppedBy = 'termination';
        break;
      }
    }

    const turns = transcript.length - 1;
    const final = transcript[transcript.length - 1] as TranscriptEntry;
    const previous = (ctx.state as Partial<GroupChatState> | null | undefined)?.tasks;
    const tasks = typeof previous === 'number' ? previous : 0;
    ctx.state = {
      tasks: tasks + 1,
      last: { task: snippet(task, SUMMARY_MAX_CHARS), turns, stopped_by: stoppedBy, last_speaker: final.speaker, last_content: snippet(final.content, SUMMARY_MAX_CHARS) },
    };
    return { transcript, turns, stopped_by: stoppedBy };
  },
});
