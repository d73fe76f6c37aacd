#!/usr/bin/env node
// The image's HEALTHCHECK, for both roles: GET /health on this container's own Flotilla port.
// One image serves `flotilla manager` (CLUSTER_PORT, 8000) and `flotilla container` (AGENT_PORT,
// 8001), so the role is read from the command the container runs: an explicit argument
// (`healthcheck.mjs container`), else the arguments of PID 1 (the entrypoint, or docker-init
// followed by it), else a guess from the environment (only containers need CENTRAL_MANAGER_URL).
// The slim image has no curl; node does the request. Exit 0 healthy, 1 not (Docker's contract).
// With TLS on (a manager with FLOTILLA_TLS=on; a container whose CENTRAL_MANAGER_URL is https://)
// the port speaks HTTPS: /health needs no client certificate, and the server's certificate is not
// checked, since this asks our own process on our own address whether it answers, nothing more.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pathToFileURL } from 'node:url';

export const DEFAULT_CLUSTER_PORT = 8000;
export const DEFAULT_AGENT_PORT = 8001;
/** Docker's own --timeout kills a slower check anyway; this one fails first, with a message. */
export const HEALTHCHECK_TIMEOUT_MS = 3_000;
export const ROLES = ['manager', 'container', 'dev'];

/** The first argument that names a role, or undefined. */
export function roleFromArgs(args) {
  return args.find((a) => ROLES.includes(a));
}

/** The role named by a process's command line (`/proc/<pid>/cmdline`, NUL-separated). */
export function roleFromCmdline(path = '/proc/1/cmdline') {
  try {
    return roleFromArgs(readFileSync(path, 'utf8').split('\0'));
  } catch {
    return undefined;
  }
}

/** Whether the role serves HTTPS, by the same settings the processes read. */
export function servesHttps(role, env) {
  if (role === 'container') return (env.CENTRAL_MANAGER_URL || '').trim().toLowerCase().startsWith('https:');
  if (role === 'manager') return (env.FLOTILLA_TLS || '').trim().toLowerCase() === 'on';
  return false;
}

/** Where the role listens: its port variable (or default), on loopback unless bound elsewhere. */
export function healthTarget(role, env) {
  const port = Number(role === 'container' ? env.AGENT_PORT || DEFAULT_AGENT_PORT : env.CLUSTER_PORT || DEFAULT_CLUSTER_PORT);
  const bind = (env.FLOTILLA_BIND_ADDRESS || '').trim();
  const host = bind === '' || bind === '0.0.0.0' ? '127.0.0.1' : bind === '::' ? '::1' : bind;
  return { host, port, path: '/health', scheme: servesHttps(role, env) ? 'https' : 'http' };
}

/** Resolves with an error message, or undefined when /health answered 200. */
export function probe({ host, port, path, scheme = 'http' }, timeoutMs = HEALTHCHECK_TIMEOUT_MS) {
  return new Promise((resolve) => {
    const request = scheme === 'https' ? httpsRequest : httpRequest;
    const tls = scheme === 'https' ? { rejectUnauthorized: false } : {};
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, ...tls }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `GET ${path} answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve(`GET ${scheme}://${host}:${port}${path}: ${err.message}`));
    req.end();
  });
}

async function main() {
  const env = process.env;
  const role = roleFromArgs(process.argv.slice(2)) ?? roleFromCmdline() ?? (env.CENTRAL_MANAGER_URL ? 'container' : 'manager');
  const target = healthTarget(role, env);
  const problem = await probe(target);
  if (problem !== undefined) {
    console.error(`flotilla ${role} unhealthy: ${problem}`);
    process.exit(1);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
