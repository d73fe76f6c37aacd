/**
 * Checks that an address a process is about to advertise really belongs to this host. The check
 * is the one that cannot lie: try to bind a socket to it. The kernel refuses (EADDRNOTAVAIL) an
 * address that no interface holds, and accepts any address of 127.0.0.0/8.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

export class AddressNotLocalError extends Error {
  override readonly name = 'AddressNotLocalError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

async function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: address, port: 0, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Resolves when `address` (an IP or a host name) is an address of this host; otherwise throws an
 * AddressNotLocalError saying what to do. `variable` names the setting in the message.
 */
export async function assertLocalAddress(address: string, variable = 'EXTERNAL_IP'): Promise<void> {
  let ips: string[];
  if (isIP(address) !== 0) {
    ips = [address];
  } else {
    try {
      ips = (await lookup(address, { all: true })).map((a) => a.address);
    } catch (cause) {
      throw new AddressNotLocalError(`${variable}=${address}: the name does not resolve; use this host's IP address`, { cause });
    }
  }
  for (const ip of ips) if (await canBind(ip)) return;
  throw new AddressNotLocalError(
    `${variable}=${address} is not an address of this host (no interface holds ${ips.join(', ')}). ` +
      `Set ${variable} to an address of this machine that the other hosts can reach ` +
      '(see `ip -brief addr`); behind NAT or a load balancer, set FLOTILLA_EXTERNAL_IP_CHECK=off.',
  );
}

/**
 * `on`: refuse a non-local address. `off`: skip the check. `auto` (default): `on`, except inside
 * a container runtime (Docker, Podman, Kubernetes), where a published port makes the host's
 * address legitimately absent from the container's own interfaces: there it only warns.
 */
export type ExternalIpCheck = 'on' | 'off' | 'auto';
export const EXTERNAL_IP_CHECKS: readonly ExternalIpCheck[] = ['on', 'off', 'auto'];

export function inContainerRuntime(env: Record<string, string | undefined> = process.env): boolean {
  return existsSync('/.dockerenv') || existsSync('/run/.containerenv') || env.KUBERNETES_SERVICE_HOST !== undefined;
}

/**
 * Applies the EXTERNAL_IP check in the given mode. Throws AddressNotLocalError when the address
 * is refused; returns a warning to log when it is accepted only because of `auto`.
 */
export async function checkExternalIp(address: string, mode: ExternalIpCheck, env: Record<string, string | undefined> = process.env): Promise<string | undefined> {
  if (mode === 'off') return undefined;
  try {
    await assertLocalAddress(address);
    return undefined;
  } catch (err) {
    if (mode === 'auto' && err instanceof AddressNotLocalError && inContainerRuntime(env)) {
      return `EXTERNAL_IP=${address} is not an address of this container; assuming a published port on the host (set FLOTILLA_EXTERNAL_IP_CHECK=on to refuse, off to silence)`;
    }
    throw err;
  }
}

/** Why a connection failed, in words an operator can act on. */
export function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused: nothing listens on that port';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to that address';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'ETIMEDOUT':
      return `no answer within ${timeoutMs} ms: a firewall drops the traffic, or the address is wrong`;
    default:
      if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms: a firewall drops the traffic, or the address is wrong`;
      return e.message ?? String(err);
  }
}
