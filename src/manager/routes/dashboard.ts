/**
 * The dashboard's files, served at `/dashboard/` (all `public`: the page holds no data, every
 * figure on it comes from API calls the browser makes with its own token). The build puts four
 * files in dist/dashboard (scripts/build-dashboard.mjs); they are read once, here, and served from
 * memory. A fixed list of routes and no path parameter: nothing a request says can reach another
 * file, which is why this is not a general static-file server (@fastify/static).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';

export const DASHBOARD_PATH = '/dashboard/';

/** What the build writes, with the type each is served as. */
const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'styles.css': 'text/css; charset=utf-8',
} as const;
type FileName = keyof typeof FILES;

/**
 * Only this origin, for scripts, styles and API calls: the page cannot load anything from a CDN
 * or send data elsewhere even if a bug tried to. Style attributes are allowed: the tables' column
 * widths and the heat map's colours are set in them.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Where the built files are: beside the manager's code in dist/ (dist/manager/routes → dist/dashboard),
 * or, when the manager runs from src/ under tsx (tests), in the repository's dist/dashboard.
 */
export function findDashboardDir(): string | undefined {
  const candidates = ['../../dashboard/', '../../../dist/dashboard/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((dir) => existsSync(`${dir}index.html`) && existsSync(`${dir}app.js`));
}

export interface DashboardRouteOptions {
  /** The folder of the built files; found by findDashboardDir() when not given. */
  dir?: string;
}

interface Loaded {
  body: Buffer;
  etag: string;
}

export const dashboardRoutes: FastifyPluginAsync<DashboardRouteOptions> = async (app, opts) => {
  const dir = opts.dir ?? findDashboardDir();
  const files = new Map<FileName, Loaded>();
  if (dir !== undefined) {
    for (const name of Object.keys(FILES) as FileName[]) {
      if (!existsSync(`${dir}${name}`)) continue;
      const body = readFileSync(`${dir}${name}`);
      files.set(name, { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
  }
  const tags = ['dashboard'];

  app.get('/dashboard', { config: { access: 'public' }, schema: { summary: `Redirects to ${DASHBOARD_PATH}`, tags } }, async (_req, reply) => reply.redirect(DASHBOARD_PATH, 301));

  for (const name of Object.keys(FILES) as FileName[]) {
    const url = name === 'index.html' ? DASHBOARD_PATH : `${DASHBOARD_PATH}${name}`;
    const summary = `The dashboard's ${name} (no data in it; 503 when not built)`;
    app.get(url, { config: { access: 'public' }, schema: { summary, tags } }, async (req, reply) => {
      const file = files.get(name);
      if (file === undefined) {
        return reply.code(503).send({
          error: 'dashboard_not_built',
          message: 'the dashboard has not been built: run `npm run build` (it writes dist/dashboard)',
          status_code: 503,
        });
      }
      reply
        .header('content-security-policy', CONTENT_SECURITY_POLICY)
        .header('x-content-type-options', 'nosniff')
        .header('etag', file.etag)
        // The files change only with a new build: revalidate each time (a 304 is cheap).
        .header('cache-control', 'no-cache');
      if (req.headers['if-none-match'] === file.etag) return reply.code(304).send();
      return reply.type(FILES[name]).send(file.body);
    });
  }
};
