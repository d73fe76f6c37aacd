/**
 * The sign-in page: paste a token, or, while the manager requires none (it answers the status
 * call without one), continue without. A token is checked with one API call before it is kept.
 */
import type { ErrorBody } from '../../protocol/api.js';
import { PATHS } from '../../protocol/paths.js';
import { esc } from '../format.js';

export type ProbeResult = { status: number; message: string };

/**
 * The cheapest call that needs `read` access: the newest event. (Status and distribution read
 * every agent, which takes a while in a large cluster.)
 */
const PROBE_PATH = `${PATHS.events}?limit=1`;

/** One read with this token (or none): 200, 401, 403…, or 0 when the manager is unreachable. */
export async function probe(token: string | null): Promise<ProbeResult> {
  try {
    const res = await fetch(PROBE_PATH, { headers: token === null ? {} : { authorization: `Bearer ${token}` }, cache: 'no-store' });
    const body = (await res.json().catch(() => ({}))) as Partial<ErrorBody>;
    return { status: res.status, message: typeof body.message === 'string' ? body.message : `HTTP ${res.status}` };
  } catch {
    return { status: 0, message: 'the manager did not answer' };
  }
}

export function probeMessage(result: ProbeResult, withToken: boolean): string {
  if (result.status === 401) return withToken ? `The manager refused this token (401): ${result.message}` : 'This manager requires a token.';
  if (result.status === 403) return `This token may not read the cluster (403): ${result.message}`;
  if (result.status === 0) return 'The manager did not answer. Is it running?';
  return `Unexpected answer from the manager: ${result.message}`;
}

export function showSignIn(root: HTMLElement, message: string | null, handlers: { token: (token: string) => Promise<string | null>; anonymous: () => Promise<string | null> }): void {
  root.innerHTML = `
    <div class="signin panel">
      <h1>Sign in to Flotilla</h1>
      <p class="error-text" id="signin-message" role="alert"${message === null ? ' hidden' : ''}>${esc(message ?? '')}</p>
      <form id="signin-form">
        <label for="signin-token">Bearer token (a JWT from <code>flotilla</code> or your administrator)</label>
        <textarea id="signin-token" name="token" required autocomplete="off" spellcheck="false"></textarea>
        <div class="row"><button class="primary" type="submit">Sign in</button></div>
      </form>
      <div id="open-api" hidden>
        <p class="muted">This manager answers without a token (authentication is not turned on).</p>
        <button type="button" id="continue-anonymous">Continue without token</button>
      </div>
    </div>`;
  const messageLine = root.querySelector<HTMLElement>('#signin-message')!;
  const say = (text: string | null): void => {
    messageLine.hidden = text === null;
    messageLine.textContent = text ?? '';
  };
  const form = root.querySelector<HTMLFormElement>('#signin-form')!;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = String(new FormData(form).get('token') ?? '').trim();
    if (token === '') return say('Paste a token first.');
    void handlers.token(token).then(say);
  });
  root.querySelector('#continue-anonymous')!.addEventListener('click', () => void handlers.anonymous().then(say));
  // Offer "continue without token" only when the API really answers without one.
  void probe(null).then((result) => {
    const open = root.querySelector<HTMLElement>('#open-api');
    if (open !== null) open.hidden = result.status !== 200;
  });
}
