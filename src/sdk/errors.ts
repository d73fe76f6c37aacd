/** `send` failed because the other agent's handler failed (or it could not run). */
export class AgentCallError extends Error {
  override readonly name = 'AgentCallError';
  constructor(
    readonly code: string,
    message: string,
    readonly agentId: string,
  ) {
    super(message);
  }
}

/** No reply came within the timeout. The message stays accepted: it may still be handled later. */
export class SendTimeoutError extends Error {
  override readonly name = 'SendTimeoutError';
  constructor(
    readonly agentId: string,
    readonly timeoutMs: number,
    readonly messageId: string,
  ) {
    super(`no reply from ${agentId} within ${timeoutMs} ms (message ${messageId})`);
  }
}
