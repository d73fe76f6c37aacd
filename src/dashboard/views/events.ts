/** Every event the page has seen (up to EVENTS_KEPT), newest first, filterable by kind. */
import type { EventView } from '../../protocol/api.js';
import { EVENTS_KEPT } from '../cluster.js';
import { renderFeed } from './event-feed.js';
import type { AppContext, View } from './view.js';

const KINDS: Record<string, (e: EventView) => boolean> = {
  all: () => true,
  containers: (e) => e.type.startsWith('container_'),
  failures: (e) => e.type === 'container_down' || e.type === 'agent_failed_over' || e.type === 'agent_unplaceable',
  placements: (e) => e.type === 'agent_placed',
  moves: (e) => e.type === 'agent_moved' || e.type === 'agent_failed_over',
};

export class EventsView implements View {
  private off: (() => void) | undefined;
  private kind = 'all';

  constructor(private readonly ctx: AppContext) {}

  mount(root: HTMLElement): void {
    root.innerHTML = `
      <h1>Events</h1>
      <div class="toolbar"><select id="event-kind" aria-label="kind">${Object.keys(KINDS).map((k) => `<option>${k}</option>`).join('')}</select>
      <span class="muted">live from the manager's event stream</span></div>
      <ul class="feed panel" id="feed" style="max-height:none"></ul>`;
    const feed = root.querySelector('#feed')!;
    const render = (): void => {
      feed.innerHTML = renderFeed(this.ctx.cluster.snapshot.events, EVENTS_KEPT, KINDS[this.kind]);
    };
    root.querySelector<HTMLSelectElement>('#event-kind')!.addEventListener('change', (e) => {
      this.kind = (e.target as HTMLSelectElement).value;
      render();
    });
    this.off = this.ctx.cluster.on((topic) => {
      if (topic === 'events') render();
    });
    render();
  }

  unmount(): void {
    this.off?.();
  }
}
