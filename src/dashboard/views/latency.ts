/**
 * The latency matrix as a heat map: a row per container, a column for Redis, the manager and
 * each container, coloured by the median round trip. The endpoint comes with the observability
 * work; until the manager has it (404) the page says so.
 */
import { ApiError, DASHBOARD_API, describeError } from '../api.js';
import { ago, esc } from '../format.js';
import type { AppContext, View } from './view.js';

export const LATENCY_REFRESH_MS = 5_000;
/** Container columns shown at most (a 1,000-wide matrix is unreadable); the filter narrows rows. */
export const MAX_PEER_COLUMNS = 40;
/** Rows shown at most; the filter finds the others. */
export const MAX_ROWS = 200;
/** The median at which a cell is fully red. */
export const RED_AT_MS = 200;

export interface LatencyEntry {
  from: string;
  to: string;
  median_ms: number | null;
  last_ms: number | null;
  max_ms: number | null;
  samples: number;
  error: string | null;
  measured_at: string | null;
}

export interface LatencyMatrix {
  generated_at: string;
  entries: LatencyEntry[];
}

export class LatencyView implements View {
  private root: HTMLElement | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private filter = '';
  private matrix: LatencyMatrix | null = null;
  private readonly controller = new AbortController();

  constructor(private readonly ctx: AppContext) {}

  mount(root: HTMLElement): void {
    this.root = root;
    root.innerHTML = `
      <h1>Latency</h1>
      <div class="toolbar"><input type="search" id="latency-filter" placeholder="filter containers" aria-label="filter containers"><span class="muted" id="latency-note"></span></div>
      <div class="panel" id="heatmap" style="overflow:auto"><span class="muted">loading…</span></div>`;
    root.querySelector<HTMLInputElement>('#latency-filter')!.addEventListener('input', (e) => {
      this.filter = (e.target as HTMLInputElement).value.trim().toLowerCase();
      this.render();
    });
    void this.load();
    this.timer = setInterval(() => void this.load(), LATENCY_REFRESH_MS);
  }

  unmount(): void {
    clearInterval(this.timer);
    this.controller.abort();
  }

  private async load(): Promise<void> {
    const box = this.root!.querySelector('#heatmap')!;
    try {
      this.matrix = await this.ctx.api.get<LatencyMatrix>(DASHBOARD_API.latency, this.controller.signal);
      this.render();
    } catch (err) {
      if (this.controller.signal.aborted) return;
      if (err instanceof ApiError && err.status === 404) {
        clearInterval(this.timer);
        box.innerHTML = '<span class="muted" data-unavailable>Latency: not available yet (this manager does not measure latency).</span>';
        return;
      }
      box.innerHTML = `<span class="error-text">${esc(describeError(err))}</span>`;
    }
  }

  private render(): void {
    if (this.matrix === null) return;
    const cells = new Map<string, LatencyEntry>();
    const froms = new Set<string>();
    const peers = new Set<string>();
    for (const e of this.matrix.entries) {
      cells.set(`${e.from}\n${e.to}`, e);
      froms.add(e.from);
      if (e.to !== 'redis' && e.to !== 'manager') peers.add(e.to);
    }
    const matching = [...froms].sort().filter((f) => this.filter === '' || f.toLowerCase().includes(this.filter));
    const rows = matching.slice(0, MAX_ROWS);
    const peerColumns = [...peers].sort().slice(0, MAX_PEER_COLUMNS);
    const columns = ['redis', 'manager', ...peerColumns];
    this.root!.querySelector('#latency-note')!.textContent =
      `measured ${ago(this.matrix.generated_at)}; ${rows.length} of ${froms.size} containers${matching.length > MAX_ROWS ? ' (filter to see others)' : ''}` + (peers.size > MAX_PEER_COLUMNS ? `; first ${MAX_PEER_COLUMNS} of ${peers.size} peer columns` : '');
    const head = `<tr><th>from \\ to</th>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
    const body = rows
      .map((from) => `<tr><th>${esc(from)}</th>${columns.map((to) => cell(from === to ? undefined : cells.get(`${from}\n${to}`))).join('')}</tr>`)
      .join('');
    this.root!.querySelector('#heatmap')!.innerHTML = rows.length === 0 ? '<span class="muted">no measurements yet</span>' : `<table class="heat" data-table="latency">${head}${body}</table>`;
  }
}

function cell(e: LatencyEntry | undefined): string {
  if (e === undefined) return '<td class="none">–</td>';
  const title = `median ${e.median_ms ?? '–'} ms, last ${e.last_ms ?? '–'} ms, max ${e.max_ms ?? '–'} ms, ${e.samples} samples${e.error === null ? '' : `, error: ${e.error}`}`;
  if (e.error !== null && e.median_ms === null) return `<td class="err" title="${esc(title)}">×</td>`;
  if (e.median_ms === null) return `<td class="none" title="${esc(title)}">–</td>`;
  // Green (120°) at 0 ms to red (0°) at RED_AT_MS and beyond.
  const hue = Math.round(120 * (1 - Math.min(1, e.median_ms / RED_AT_MS)));
  return `<td style="background:hsl(${hue},70%,80%)" title="${esc(title)}">${esc(e.median_ms < 10 ? e.median_ms.toFixed(2) : Math.round(e.median_ms))}</td>`;
}
