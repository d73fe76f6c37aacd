/**
 * The dashboard's entry point: sign-in, then the views, chosen by the address's fragment
 * (`#/overview`, `#/agents`, `#/agents/<type>/<name>`, `#/latency`, `#/events`).
 */
import { Api } from './api.js';
import { decodeClaims, describeUser, keepAnonymous, keepToken, mayOperate, signOut, signedInAnonymously, storedToken, takeTokenFromFragment } from './auth.js';
import { Cluster } from './cluster.js';
import { esc } from './format.js';
import { AgentPage } from './views/agent-page.js';
import { AgentsView } from './views/agents.js';
import { EventsView } from './views/events.js';
import { LatencyView } from './views/latency.js';
import { OverviewView } from './views/overview.js';
import { probe, probeMessage, showSignIn } from './views/sign-in.js';
import type { AppContext, View } from './views/view.js';

const main = document.getElementById('main')!;
const top = document.getElementById('top')!;

interface Session {
  ctx: AppContext;
  view: View | null;
  onHash: () => void;
}
let session: Session | null = null;

function route(ctx: AppContext): { view: View; nav: string } {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '');
  const [first = 'overview'] = parts;
  if (first === 'agents' && parts.length >= 3) return { view: new AgentPage(ctx, `${decodeURIComponent(parts[1]!)}/${decodeURIComponent(parts.slice(2).join('/'))}`), nav: 'agents' };
  if (first === 'agents') return { view: new AgentsView(ctx), nav: 'agents' };
  if (first === 'latency') return { view: new LatencyView(ctx), nav: 'latency' };
  if (first === 'events') return { view: new EventsView(ctx), nav: 'events' };
  return { view: new OverviewView(ctx), nav: 'overview' };
}

function show(s: Session): void {
  s.view?.unmount();
  const { view, nav } = route(s.ctx);
  for (const a of top.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('current', a.dataset.view === nav);
  s.view = view;
  view.mount(main);
}

function startApp(): void {
  const token = storedToken();
  const claims = decodeClaims(token);
  const api: Api = new Api(storedToken, (err) => {
    // Several calls in flight may all get the 401: only the first ends this session.
    if (session?.ctx.api === api) end(`Your session ended: the manager refused the token (401): ${err.message}. Sign in again.`);
  });
  const cluster = new Cluster(api);
  const ctx: AppContext = { api, cluster, mayOperate: mayOperate(claims) };
  document.body.classList.toggle('read-only', !ctx.mayOperate);
  top.hidden = false;
  document.getElementById('who')!.textContent = describeUser(claims, token !== null);
  const live = document.getElementById('live')!;
  cluster.on((topic) => {
    if (topic !== 'mode') return;
    const mode = cluster.snapshot.mode;
    live.className = `live ${mode === 'live' ? 'on' : mode}`;
    live.textContent = mode === 'live' ? 'live' : mode === 'polling' ? 'polling (stream down)' : 'connecting…';
  });
  const s: Session = { ctx, view: null, onHash: () => show(s) };
  session = s;
  window.addEventListener('hashchange', s.onHash);
  cluster.start();
  show(s);
}

/** Leaves the app for the sign-in page (sign-out, or a 401). */
function end(message: string | null): void {
  if (session !== null) {
    session.view?.unmount();
    session.ctx.cluster.stop();
    window.removeEventListener('hashchange', session.onHash);
    session = null;
  }
  signOut();
  top.hidden = true;
  document.getElementById('ops')!.innerHTML = '';
  showSignIn(main, message, {
    token: async (token) => {
      const result = await probe(token);
      if (result.status !== 200) return probeMessage(result, true);
      keepToken(token);
      startApp();
      return null;
    },
    anonymous: async () => {
      const result = await probe(null);
      if (result.status !== 200) return probeMessage(result, false);
      keepAnonymous();
      startApp();
      return null;
    },
  });
}

function boot(): void {
  document.getElementById('sign-out')!.addEventListener('click', () => end(null));
  const token = takeTokenFromFragment() ?? storedToken();
  // A kept token (or the choice to go without) is used at once: the page's first calls check it,
  // and a 401 on any of them brings the sign-in page back, so a separate check would only wait.
  if (token !== null || signedInAnonymously()) return startApp();
  end(null);
}

try {
  boot();
} catch (err) {
  main.innerHTML = `<p class="error-text">The dashboard could not start: ${esc(err instanceof Error ? err.message : String(err))}</p>`;
}

