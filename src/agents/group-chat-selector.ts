/**
 * Selector mode of `group-chat`: an LLM agent is shown the members and the conversation and asked
 * who speaks next. Models answer loosely ("The next speaker should be **critic/bob**."), so the
 * answer is read robustly; anything that does not name exactly one member yields undefined, and
 * the caller falls back to round robin.
 */
import type { TranscriptEntry } from './group-chat-transcript.js';
import { renderTranscript } from './group-chat-transcript.js';

export function selectorPrompt(members: readonly string[], transcript: readonly TranscriptEntry[]): string {
  return [
    'You choose who speaks next in a group conversation.',
    '',
    'Members:',
    ...members.map((m, i) => `${i + 1}. ${m}`),
    '',
    'Conversation so far:',
    renderTranscript(transcript),
    '',
    'Reply with only the id of the member who should speak next, exactly as listed above.',
  ].join('\n');
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Members whose `token` (id or name) appears in `text` as a whole word. */
function mentioned(text: string, members: readonly string[], token: (m: string) => string): string[] {
  return members.filter((m) => new RegExp(`(?<![A-Za-z0-9_/-])${escapeRe(token(m))}(?![A-Za-z0-9_/-])`, 'i').test(text));
}

/** The member the selector's answer names, or undefined when it names none or several. */
export function parseSelection(answer: string, members: readonly string[]): string | undefined {
  const nameOf = (id: string): string => id.slice(id.indexOf('/') + 1);
  // A bare name only counts when no two members share it (writer/alice, critic/alice).
  const uniqueNames = members.filter((m) => members.filter((o) => nameOf(o).toLowerCase() === nameOf(m).toLowerCase()).length === 1);

  const bare = answer
    .trim()
    .replace(/^[\s"'`*_]+|[\s"'`*_.!]+$/g, '')
    .toLowerCase();
  const exact = members.find((m) => m.toLowerCase() === bare) ?? uniqueNames.find((m) => nameOf(m).toLowerCase() === bare);
  if (exact !== undefined) return exact;
  if (/^\d+$/.test(bare)) return members[Number(bare) - 1];

  const byId = mentioned(answer, members, (m) => m);
  if (byId.length === 1) return byId[0];
  if (byId.length > 1) return undefined;
  const byName = mentioned(answer, uniqueNames, nameOf);
  return byName.length === 1 ? byName[0] : undefined;
}
