/** The conversation a `group-chat` keeps while it runs a task. */

export interface TranscriptEntry {
  /** An agent id, or the sender of the task (`ctx.message.from`). */
  speaker: string;
  content: string;
}

/** `speaker: content` paragraphs: what members and the selector read. */
export function renderTranscript(transcript: readonly TranscriptEntry[]): string {
  return transcript.map((e) => `${e.speaker}: ${e.content}`).join('\n\n');
}
