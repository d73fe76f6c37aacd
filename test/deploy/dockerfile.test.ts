/**
 * deploy/Dockerfile follows the usual lint rules (hadolint's, checked by ./dockerfile-lint.ts on
 * dockerfile-ast's parse) and the Docker language server's validator (dockerfile-utils); every
 * rule is shown to fire on a broken copy. The build context's .dockerignore lets in exactly what
 * the Dockerfile copies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validate } from 'dockerfile-utils';
import { DockerfileParser } from 'dockerfile-ast';
import { DEFAULT_AGENT_PORT, DEFAULT_CLUSTER_PORT } from '../../src/protocol/paths.js';
import { DEPLOY_DIR, REPO_ROOT } from './deploy-files.js';
import { lintDockerfile } from './dockerfile-lint.js';

const DOCKERFILE = readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8');

function rules(content: string): string[] {
  return lintDockerfile(content).map((f) => f.rule);
}

/** `content` with `from` replaced by `to`; fails loudly if `from` is absent (a stale mutation). */
function mutate(from: string | RegExp, to: string, content = DOCKERFILE): string {
  assert.ok(typeof from === 'string' ? content.includes(from) : from.test(content), `the Dockerfile no longer contains ${String(from)}`);
  return content.replace(from, to);
}

test('deploy/Dockerfile: no lint finding', () => {
  assert.deepEqual(lintDockerfile(DOCKERFILE), []);
});

test('deploy/Dockerfile: no diagnostic from the Docker language server validator', () => {
  assert.deepEqual(
    validate(DOCKERFILE).map((d) => `${d.range.start.line + 1}: ${d.message}`),
    [],
  );
});

test('each lint rule fires on a Dockerfile that breaks it', () => {
  const cases: [string, string][] = [
    ['DL3006', mutate(/FROM node:[\w.-]+ AS runtime/, 'FROM node AS runtime')],
    ['DL3007', mutate(/FROM node:[\w.-]+ AS runtime/, 'FROM node:latest AS runtime')],
    ['DL3002', mutate(/^USER .*$/m, 'USER root')],
    ['DL3002', mutate(/^USER .*$/m, '')],
    ['DL3057', mutate(/^HEALTHCHECK[^\n]*\\\n[^\n]*\n/m, '')],
    ['npm-ci', mutate('RUN npm ci --omit=dev', 'RUN npm install --omit=dev')],
    ['DL3015', mutate('RUN npm ci --ignore-scripts --no-audit', 'RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/* && npm ci --ignore-scripts --no-audit')],
    ['DL3009', mutate('RUN npm ci --ignore-scripts --no-audit', 'RUN apt-get update && apt-get install -y --no-install-recommends curl && npm ci --ignore-scripts --no-audit')],
    ['DL3020', mutate('COPY src ./src', 'ADD src ./src')],
    ['DL3025', mutate('CMD ["auto"]', 'CMD auto')],
    ['DL3025', mutate(/^ENTRYPOINT .*$/m, 'ENTRYPOINT /bin/sh /app/deploy/docker-entrypoint.sh')],
    ['DL3000', mutate('WORKDIR /app', 'WORKDIR app')],
    ['DL3022', mutate('COPY --from=build', 'COPY --from=builder')],
    ['DL3024', mutate('AS runtime', 'AS build')],
    ['DL3003', mutate('RUN npm run build', 'RUN cd src && npm run build')],
    ['DL3004', mutate('RUN npm run build', 'RUN sudo npm run build')],
    ['DL4006', mutate('RUN npm run build', 'RUN npm run build | tee build.log')],
    ['DL4000', mutate('WORKDIR /app', 'MAINTAINER someone\nWORKDIR /app')],
  ];
  for (const [rule, content] of cases) assert.ok(rules(content).includes(rule), `${rule} did not fire; findings: ${rules(content).join(', ') || 'none'}`);
});

test('deploy/Dockerfile: multi-stage, runtime with production dependencies only, both ports, the role as the command (auto by default)', () => {
  const dockerfile = DockerfileParser.parse(DOCKERFILE);
  const froms = dockerfile.getFROMs();
  assert.ok(froms.length >= 2, 'not multi-stage');
  const runtime = froms[froms.length - 1]!;
  assert.match(`${runtime.getImageName() ?? ''}:${runtime.getImageTag() ?? ''}`, /^node:20\.\d+\.\d+-(bookworm-slim|alpine[\d.]*)$/);
  const lines = DOCKERFILE.split('\n');
  const runtimePart = lines.slice(runtime.getRange()!.start.line).join('\n');
  assert.match(runtimePart, /npm ci --omit=dev/);
  assert.doesNotMatch(runtimePart, /COPY (\S+ )*src\b/, 'sources copied into the runtime stage');
  const exposed = dockerfile.getInstructions().filter((i) => i.getKeyword() === 'EXPOSE').flatMap((i) => (i.getArgumentsContent() ?? '').split(/\s+/).map(Number));
  assert.deepEqual(exposed.sort(), [DEFAULT_CLUSTER_PORT, DEFAULT_AGENT_PORT].sort());
  const cmd = dockerfile.getCMDs().at(-1)!;
  assert.deepEqual(JSON.parse(cmd.getArgumentsContent() ?? ''), ['auto']);
  assert.match(DOCKERFILE, /HEALTHCHECK[^\n]*\\\n\s+CMD \["node", "\/app\/deploy\/healthcheck\.mjs"\]/);
});

test('.dockerignore lets in exactly what the Dockerfile copies from the build context', () => {
  const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  assert.equal(ignore[0], '**', 'everything is excluded first');
  const allowed = ignore.slice(1).map((l) => {
    assert.ok(l.startsWith('!'), `${l}: only exceptions follow **`);
    return l.slice(1).replace(/\/\*\*$/, '');
  });
  const copied = DockerfileParser.parse(DOCKERFILE)
    .getCOPYs()
    .filter((c) => c.getFromFlag() === null)
    .flatMap((c) => c.getArguments().slice(0, -1).map((a) => a.getValue()));
  assert.deepEqual([...new Set(copied)].sort(), allowed.sort());
  for (const path of allowed) assert.ok(existsSync(join(REPO_ROOT, path)), `${path} is copied but does not exist`);
});
