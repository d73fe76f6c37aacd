/** Small text helpers: HTML escaping (every value from the API goes through it) and times. */

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** "4 s ago", "3 min ago", "2 h ago" from an ISO time, relative to `nowMs`. */
export function ago(iso: string | null | undefined, nowMs = Date.now()): string {
  if (iso === null || iso === undefined || iso === '') return '–';
  const ms = nowMs - Date.parse(iso);
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/**
 * An "ago" text that refreshAgo() keeps current in place, so a table need not be rendered again
 * each second (which would replace its buttons under the pointer).
 */
export function agoSpan(iso: string | null | undefined): string {
  return `<span data-ago="${esc(iso ?? '')}">${esc(ago(iso))}</span>`;
}

export function refreshAgo(root: ParentNode, nowMs = Date.now()): void {
  for (const span of root.querySelectorAll<HTMLElement>('[data-ago]')) span.textContent = ago(span.dataset.ago, nowMs);
}

/** HH:MM:SS of an ISO time, local. */
export function clock(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour12: false });
}

export function badge(value: string): string {
  return `<span class="badge ${esc(value)}">${esc(value)}</span>`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
