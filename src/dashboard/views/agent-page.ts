/**
 * One agent: where it runs and how it is doing, a form to send it a message and read the reply
 * (the API waits for it), a migrate form, and its recent logs (the logs API, when the manager has
 * it: a 404 shows "not available yet").
 */
import type { AgentDetail } from '../../protocol/agents-api.js';
import type { MessageOutcome } from '../../protocol/messages-api.js';
import { PATHS } from '../../protocol/paths.js';
import { migrateAgent } from '../actions.js';
import { ApiError, DASHBOARD_API, describeError } from '../api.js';
import { compareIds } from '../cluster.js';
import { ago, badge, clock, esc } from '../format.js';
import type { AppContext, View } from './view.js';

/** The agent's record is read again this often while its page is open (turns, mailbox depth). */
export const AGENT_REFRESH_MS = 2_000;
export const LOGS_REFRESH_MS = 3_000;
export const LOG_LINES = 200;
/** How long the page waits for a reply (the API's timeout_ms). */
export const SEND_TIMEOUT_MS = 30_000;

export interface LogEntry {
  id: string;
  time: string;
  level: string;
  container_id: string | null;
  agent_id: string | null;
  trace_id: string | null;
  msg: string;
}

export interface LogPage {
  entries: LogEntry[];
  next: string;
}

export class AgentPage implements View {
  private root: HTMLElement | undefined;
  private timers: ReturnType<typeof setInterval>[] = [];
  private off: (() => void) | undefined;
  private logCursor: string | null = null;
  private logs: LogEntry[] = [];
  private logsAvailable: boolean | null = null;
  private lastEventSeen = '';
  private readonly controller = new AbortController();

  constructor(
    private readonly ctx: AppContext,
    private readonly agentId: string,
  ) {}

  private get type(): string {
    return this.agentId.slice(0, this.agentId.indexOf('/'));
  }

  private get name(): string {
    return this.agentId.slice(this.agentId.indexOf('/') + 1);
  }

  mount(root: HTMLElement): void {
    this.root = root;
    root.innerHTML = `
      <p><a href="#/agents">← agents</a></p>
      <h1>${esc(this.agentId)}</h1>
      <div class="grid2">
        <section>
          <div class="panel" id="agent-detail"><span class="muted">loading…</span></div>
          <h2>Send a message</h2>
          <form class="panel op" id="send-form">
            <textarea name="message" rows="4" style="width:100%" aria-label="message" placeholder='JSON, e.g. {"text": "hi"}, or plain text'></textarea>
            <div class="toolbar"><button class="primary" type="submit">Send and wait for the reply</button><span id="send-status" role="status"></span></div>
            <div class="result" id="reply" hidden></div>
          </form>
          <h2>Recent logs</h2>
          <div class="panel logs" id="logs"><span class="muted">loading…</span></div>
        </section>
        <section>
          <h2>Migrate</h2>
          <form class="panel op" id="migrate-form">
            <label>Target <select name="target" id="migrate-target"><option value="">scheduler chooses</option></select></label>
            <label><input type="checkbox" name="preserve_state" checked> keep its state</label>
            <div class="toolbar"><button type="submit">Migrate</button><span id="migrate-status" role="status"></span></div>
          </form>
        </section>
      </div>`;
    const send = root.querySelector<HTMLFormElement>('#send-form')!;
    send.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.send(send);
    });
    const migrate = root.querySelector<HTMLFormElement>('#migrate-form')!;
    migrate.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.migrate(migrate);
    });
    this.off = this.ctx.cluster.on((topic) => {
      if (topic === 'containers') this.renderTargets();
      if (topic === 'events') {
        // Refresh at once when an event names this agent (placed, moved, failed over).
        const events = this.ctx.cluster.snapshot.events;
        const last = events[events.length - 1];
        if (last !== undefined && last.id !== this.lastEventSeen) {
          const fresh = this.lastEventSeen === '' ? events : events.filter((e) => compareIds(e.id, this.lastEventSeen) > 0);
          this.lastEventSeen = last.id;
          if (fresh.some((e) => e.data.agent_id === this.agentId)) void this.loadAgent();
        }
      }
    });
    this.renderTargets();
    void this.loadAgent();
    void this.loadLogs();
    this.timers.push(setInterval(() => void this.loadAgent(), AGENT_REFRESH_MS));
    this.timers.push(setInterval(() => void this.loadLogs(), LOGS_REFRESH_MS));
  }

  unmount(): void {
    this.off?.();
    for (const t of this.timers) clearInterval(t);
    this.controller.abort();
  }

  private async loadAgent(): Promise<void> {
    const box = this.root!.querySelector('#agent-detail')!;
    try {
      const a = await this.ctx.api.get<AgentDetail>(PATHS.agent(this.type, this.name), this.controller.signal);
      const rows: [string, string][] = [
        ['state', `${badge(a.state)}${a.error === undefined ? '' : ` <span class="error-text">${esc(a.error)}</span>`}${a.placement_error === undefined ? '' : ` <span class="error-text">${esc(a.placement_error)}</span>`}`],
        ['container', `<span id="agent-container">${esc(a.container_id ?? '–')}</span>`],
        ['host', esc(a.host_address ?? '–')],
        ['epoch', esc(a.epoch)],
        ['mailbox depth', esc(a.mailbox_depth)],
        ['turns', `${esc(a.turns)}${a.turns > 0 ? ` (last ${esc(ago(a.updated_at))})` : ''}`],
        ['strategy', esc(a.deployment_strategy)],
        ['created', esc(a.created_at)],
        ['config', `<code>${esc(JSON.stringify(a.agent_config))}</code>`],
      ];
      box.innerHTML = `<dl class="kv">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
    } catch (err) {
      if (this.controller.signal.aborted) return;
      box.innerHTML = `<span class="error-text">${esc(err instanceof ApiError && err.status === 404 ? 'no such agent (deleted?)' : describeError(err))}</span>`;
    }
  }

  private renderTargets(): void {
    const select = this.root!.querySelector<HTMLSelectElement>('#migrate-target')!;
    const chosen = select.value;
    const targets = this.ctx.cluster.snapshot.containers.filter((c) => c.state === 'active' && c.availability === 'schedulable');
    select.innerHTML = `<option value="">scheduler chooses</option>${targets.map((c) => `<option value="${esc(c.container_id)}">${esc(c.container_id)} (${esc(c.host_address)})</option>`).join('')}`;
    select.value = targets.some((c) => c.container_id === chosen) ? chosen : '';
  }

  private async send(form: HTMLFormElement): Promise<void> {
    const text = String(new FormData(form).get('message') ?? '');
    let message: unknown = text;
    try {
      message = JSON.parse(text);
    } catch {
      // not JSON: sent as a string
    }
    const status = form.querySelector('#send-status')!;
    const reply = form.querySelector<HTMLElement>('#reply')!;
    const button = form.querySelector('button')!;
    button.disabled = true;
    status.textContent = 'sent, waiting for the reply…';
    const started = performance.now();
    try {
      const res = await this.ctx.api.post<MessageOutcome>(DASHBOARD_API.agentMessages(this.agentId), { message, timeout_ms: SEND_TIMEOUT_MS });
      const ms = Math.round(performance.now() - started);
      status.innerHTML = res.status === 'completed' ? `<span class="ok-text">replied in ${ms} ms${res.container_id === undefined ? '' : ` by ${esc(res.container_id)}`}</span>` : `<span class="error-text">${esc(res.status)}</span>`;
      reply.hidden = false;
      reply.textContent = JSON.stringify(res.status === 'completed' ? res.result : res.error, null, 2);
      void this.loadAgent();
    } catch (err) {
      status.innerHTML = `<span class="error-text">${esc(describeError(err))}</span>`;
      reply.hidden = true;
    } finally {
      button.disabled = false;
    }
  }

  private async migrate(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    const target = String(data.get('target') ?? '');
    const button = form.querySelector('button')!;
    const status = form.querySelector('#migrate-status')!;
    button.disabled = true;
    status.textContent = 'migrating…';
    const res = await migrateAgent(this.ctx.api, this.ctx.cluster, this.agentId, {
      ...(target === '' ? {} : { target_container_id: target }),
      preserve_state: data.get('preserve_state') !== null,
    });
    button.disabled = false;
    status.textContent = res === null ? 'failed (see above)' : `now on ${res.container_id}`;
    void this.loadAgent();
  }

  private async loadLogs(): Promise<void> {
    if (this.logsAvailable === false) return;
    const box = this.root!.querySelector('#logs')!;
    const query = new URLSearchParams({ agent: this.agentId, limit: String(LOG_LINES) });
    if (this.logCursor !== null) query.set('after', this.logCursor);
    try {
      const page = await this.ctx.api.get<LogPage>(`${DASHBOARD_API.logs}?${query.toString()}`, this.controller.signal);
      this.logsAvailable = true;
      this.logs.push(...page.entries);
      if (this.logs.length > LOG_LINES) this.logs.splice(0, this.logs.length - LOG_LINES);
      this.logCursor = page.next;
      box.innerHTML = this.logs.length === 0
        ? '<span class="muted">no log lines yet</span>'
        : this.logs
            .slice()
            .reverse()
            .map((l) => `<div class="lv-${esc(l.level)}"><span class="muted">${esc(clock(l.time))}</span> ${esc(l.level)} ${esc(l.container_id ?? '')} ${esc(l.msg)}</div>`)
            .join('');
    } catch (err) {
      if (this.controller.signal.aborted) return;
      if (err instanceof ApiError && err.status === 404 && err.code !== 'validation_failed') {
        // The manager has no logs API yet (or no such route): say so, and stop asking.
        this.logsAvailable = false;
        box.innerHTML = '<span class="muted" data-unavailable>Logs: not available yet (this manager has no logs API).</span>';
        return;
      }
      box.innerHTML = `<span class="error-text">${esc(describeError(err))}</span>`;
    }
  }
}
