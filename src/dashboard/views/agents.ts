/**
 * Agents: a deploy form, and every agent (virtualised, filterable by text and state) with its
 * container, state, mailbox depth and last turn. A row's id links to the agent's page.
 */
import type { AgentView } from '../../protocol/agents-api.js';
import type { Strategy } from '../../scheduler/strategy.js';
import { deployAgent } from '../actions.js';
import type { Topic } from '../cluster.js';
import { agoSpan, badge, esc } from '../format.js';
import { VirtualTable, type Column } from '../virtual-table.js';
import type { AppContext, View } from './view.js';

/** The scheduler's strategies (a type-only import keeps the scheduler out of the bundle). */
const STRATEGY_NAMES = {
  round_robin: 'round robin',
  least_loaded: 'least loaded',
  resource_based: 'resource based',
  capability_based: 'capability based',
  affinity_based: 'affinity based',
  spread: 'spread across hosts',
} as const satisfies Record<Strategy, string>;

interface Row {
  a: AgentView;
  text: string;
}

export function agentHref(agentId: string): string {
  return `#/agents/${agentId.split('/').map(encodeURIComponent).join('/')}`;
}

export class AgentsView implements View {
  private table: VirtualTable<Row> | undefined;
  private off: (() => void) | undefined;
  private release: (() => void) | undefined;
  private root: HTMLElement | undefined;
  private filter = '';
  private state = '';
  private rendered = false;
  private renderedAll = false;
  private rows: Row[] = [];
  private rowsOf: AgentView[] | null = null;

  constructor(private readonly ctx: AppContext) {}

  mount(root: HTMLElement): void {
    this.root = root;
    root.innerHTML = `
      <h1>Agents</h1>
      <form class="inline panel op" id="deploy-form">
        <label>Type <input name="agent_type" required list="agent-types" placeholder="echo" size="14"></label>
        <label>Name <input name="name" placeholder="(random)" size="16"></label>
        <label>Strategy <select name="deployment_strategy"><option value="">(default)</option>${Object.entries(STRATEGY_NAMES)
          .map(([value, label]) => `<option value="${esc(value)}">${esc(label)}</option>`)
          .join('')}</select></label>
        <button class="primary" type="submit">Deploy</button>
        <span id="deploy-result" role="status"></span>
        <datalist id="agent-types"></datalist>
      </form>
      <div class="toolbar">
        <input type="search" id="agent-filter" placeholder="filter: id, container, host…" aria-label="filter agents">
        <select id="agent-state" aria-label="state"><option value="">every state</option>${['active', 'activating', 'pending', 'failed', 'migrating', 'draining', 'stopped']
          .map((s) => `<option>${s}</option>`)
          .join('')}</select>
        <span class="muted" id="agent-shown">loading…</span>
      </div>
      <p class="error-text" id="fetch-error" hidden></p>
      <div id="agents"></div>`;
    const columns: Column<Row>[] = [
      { title: 'Agent', width: 'minmax(160px,2fr)', cell: (r) => `<a href="${esc(agentHref(r.a.agent_id))}">${esc(r.a.agent_id)}</a>` },
      { title: 'Type', width: 'minmax(70px,.8fr)', cell: (r) => esc(r.a.agent_type) },
      { title: 'Name', width: 'minmax(90px,1fr)', cell: (r) => esc(r.a.agent_name) },
      { title: 'Container', width: 'minmax(100px,1fr)', cell: (r) => `<span data-container>${esc(r.a.container_id ?? '–')}</span>` },
      { title: 'Host', width: 'minmax(100px,1fr)', cell: (r) => esc(r.a.host_address ?? '–') },
      { title: 'State', width: '100px', cell: (r) => badge(r.a.state) },
      { title: 'Mailbox', width: '80px', cell: (r) => esc(r.a.mailbox_depth) },
      { title: 'Last turn', width: '150px', cell: (r) => (r.a.turns === 0 ? '<span class="muted">none yet</span>' : `${esc(r.a.turns)} · ${agoSpan(r.a.updated_at)}`) },
    ];
    this.table = new VirtualTable(root.querySelector('#agents')!, columns, { name: 'agents', empty: 'no agents', visibleRows: 20 });
    root.querySelector<HTMLInputElement>('#agent-filter')!.addEventListener('input', (e) => {
      this.filter = (e.target as HTMLInputElement).value.trim().toLowerCase();
      this.render();
    });
    root.querySelector<HTMLSelectElement>('#agent-state')!.addEventListener('change', (e) => {
      this.state = (e.target as HTMLSelectElement).value;
      this.render();
    });
    const form = root.querySelector<HTMLFormElement>('#deploy-form')!;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.deploy(form);
    });
    this.off = this.ctx.cluster.on((topic) => this.update(topic));
    this.release = this.ctx.cluster.needAgents();
    this.update('containers');
    this.update('agents');
  }

  unmount(): void {
    this.off?.();
    this.release?.();
    this.table?.destroy();
  }

  private async deploy(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    const type = String(data.get('agent_type') ?? '').trim();
    const name = String(data.get('name') ?? '').trim();
    const strategy = String(data.get('deployment_strategy') ?? '') as Strategy | '';
    const button = form.querySelector('button')!;
    const result = form.querySelector('#deploy-result')!;
    button.disabled = true;
    result.textContent = 'deploying…';
    const res = await deployAgent(this.ctx.api, this.ctx.cluster, {
      agent_type: type,
      ...(name === '' ? {} : { name }),
      ...(strategy === '' ? {} : { deployment_strategy: strategy }),
    });
    button.disabled = false;
    result.innerHTML = res === null ? '<span class="error-text">failed (see above)</span>' : res.agents.map((a) => `<a href="${esc(agentHref(a.agent_id))}">${esc(a.agent_id)}</a> → ${esc(a.container_id)}`).join(', ');
  }

  private update(topic: Topic): void {
    if (topic === 'containers') {
      const types = new Set<string>();
      for (const c of this.ctx.cluster.snapshot.containers) if (c.state === 'active') for (const t of c.agent_types) types.add(t);
      this.root!.querySelector('#agent-types')!.innerHTML = [...types].sort().map((t) => `<option value="${esc(t)}">`).join('');
    } else if (topic === 'agents') {
      this.render();
    }
  }

  private render(): void {
    const { agents, agentsTotal, agentsComplete, error } = this.ctx.cluster.snapshot;
    const errorLine = this.root!.querySelector<HTMLElement>('#fetch-error')!;
    errorLine.hidden = error === null;
    errorLine.textContent = error ?? '';
    if (agents === null) return;
    // The lower-cased text of each row is built once per fetch, not once per keystroke.
    if (this.rowsOf !== agents) {
      this.rowsOf = agents;
      this.rows = agents.map((a) => ({ a, text: `${a.agent_id} ${a.container_id ?? ''} ${a.host_address ?? ''}`.toLowerCase() }));
    }
    const shown = this.filter === '' && this.state === '' ? this.rows : this.rows.filter((r) => (this.state === '' || r.a.state === this.state) && (this.filter === '' || r.text.includes(this.filter)));
    this.table!.setRows(shown);
    const more = agentsTotal <= agents.length ? '' : agentsComplete ? ` (the first ${agents.length} of ${agentsTotal} by id)` : ` (the first ${agents.length} of ${agentsTotal}; loading the rest…)`;
    this.root!.querySelector('#agent-shown')!.textContent = `${shown.length === agents.length ? `${agents.length} agents` : `${shown.length} of ${agents.length} shown`}${more}`;
    if (!this.rendered) {
      this.rendered = true;
      // Read by the benchmark: the first render with data, and the one with every agent.
      performance.mark('flotilla:agents-rendered');
    }
    if (agentsComplete && !this.renderedAll) {
      this.renderedAll = true;
      performance.mark('flotilla:agents-complete');
    }
  }
}
