/**
 * The hadolint rules that matter for our image, checked on dockerfile-ast's parse of the file
 * (hadolint itself is a Haskell binary that no registry here ships). Each finding carries
 * hadolint's rule code, so a reader can look the rule up.
 */
import { DockerfileParser, type Copy, type Instruction } from 'dockerfile-ast';

export interface Finding {
  rule: string;
  line: number;
  message: string;
}

const ROOT_USERS = new Set(['root', '0']);

function args(i: Instruction): string {
  return i.getArgumentsContent() ?? '';
}

function isJsonForm(i: Instruction): boolean {
  return args(i).trim().startsWith('[');
}

/** The parts of a RUN split at && / ; / || so that each command is checked on its own. */
function commands(run: string): string[] {
  return run.split(/&&|\|\||;/).map((c) => c.replace(/\\\n/g, ' ').trim());
}

export function lintDockerfile(content: string): Finding[] {
  const findings: Finding[] = [];
  const add = (rule: string, i: Instruction | undefined, message: string): void => {
    findings.push({ rule, line: (i?.getRange()?.start.line ?? -1) + 1, message });
  };
  const dockerfile = DockerfileParser.parse(content);
  const instructions = dockerfile.getInstructions();
  const stages: string[] = [];
  let lastUser: Instruction | undefined;
  let finalStageStart = 0;

  instructions.forEach((i, index) => {
    const keyword = i.getKeyword().toUpperCase();
    const a = args(i);
    switch (keyword) {
      case 'FROM': {
        const from = dockerfile.getFROMs().find((f) => f.getRange()?.start.line === i.getRange()?.start.line);
        const image = from?.getImageName() ?? '';
        const isStage = stages.includes(image);
        if (!isStage && image !== 'scratch') {
          const tag = from?.getImageTag() ?? undefined;
          if (tag === undefined && (from?.getImageDigest() ?? undefined) === undefined) add('DL3006', i, `FROM ${image}: tag the image version explicitly`);
          if (tag === 'latest') add('DL3007', i, `FROM ${image}:latest: pin a version, latest moves`);
        }
        const stage = from?.getBuildStage();
        if (stage !== undefined && stage !== null) {
          if (stages.includes(stage)) add('DL3024', i, `stage name ${stage} is used twice`);
          stages.push(stage);
        }
        finalStageStart = index;
        lastUser = undefined;
        break;
      }
      case 'USER':
        lastUser = i;
        break;
      case 'WORKDIR':
        if (!a.startsWith('/') && !a.startsWith('$')) add('DL3000', i, `WORKDIR ${a}: use an absolute path`);
        break;
      case 'ADD':
        add('DL3020', i, 'use COPY instead of ADD for files and folders');
        break;
      case 'MAINTAINER':
        add('DL4000', i, 'MAINTAINER is deprecated: use a LABEL');
        break;
      case 'CMD':
      case 'ENTRYPOINT':
        if (!isJsonForm(i)) add('DL3025', i, `${keyword}: use the exec (JSON) form, so that signals reach the process`);
        break;
      case 'COPY': {
        const fromFlag = (i as Copy).getFromFlag?.()?.getValue() ?? undefined;
        if (fromFlag !== undefined && !/^\d+$/.test(fromFlag) && !fromFlag.includes(':') && !fromFlag.includes('/') && !stages.includes(fromFlag)) {
          add('DL3022', i, `COPY --from=${fromFlag} names no earlier stage`);
        }
        break;
      }
      case 'RUN':
        for (const c of commands(a)) {
          if (/^sudo\b/.test(c)) add('DL3004', i, 'do not use sudo: RUN runs as the current USER');
          if (/^cd\s/.test(c)) add('DL3003', i, 'use WORKDIR to switch directories');
          if (/^npm\s+(install|i)(\s|$)/.test(c)) add('npm-ci', i, 'use `npm ci` (the lockfile, exactly) instead of `npm install`');
          if (/^apt-get\s+(-\S+\s+)*install\b/.test(c)) {
            if (!c.includes('--no-install-recommends')) add('DL3015', i, 'apt-get install: add --no-install-recommends');
            if (!/rm -rf \/var\/lib\/apt\/lists/.test(a)) add('DL3009', i, 'delete /var/lib/apt/lists in the same RUN');
          }
        }
        if (/[^|]\|[^|]/.test(a) && !/pipefail/.test(a) && !/^\s*\[/.test(a)) add('DL4006', i, 'a pipe in RUN: set -o pipefail (SHELL ["/bin/bash", "-o", "pipefail", "-c"])');
        break;
      default:
        break;
    }
  });

  const finalStage = instructions.slice(finalStageStart);
  if (lastUser === undefined) add('DL3002', undefined, 'the final stage has no USER: the container would run as root');
  else if (ROOT_USERS.has(args(lastUser).split(':')[0]!.trim())) add('DL3002', lastUser, 'the last USER is root');
  if (!finalStage.some((i) => i.getKeyword().toUpperCase() === 'HEALTHCHECK')) add('DL3057', undefined, 'the final stage has no HEALTHCHECK');
  return findings;
}
