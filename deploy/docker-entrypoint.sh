#!/bin/sh
# Entrypoint of the Flotilla image. Docker Swarm and Kubernetes hand secrets over as files, while
# Flotilla reads plain environment variables: for every NAME_FILE in the environment this exports
# NAME with the file's content (trailing newlines dropped) and unsets NAME_FILE. Only names that
# hold secrets or Flotilla settings are converted (REDIS_URL, CENTRAL_MANAGER_URL, FLOTILLA_*,
# *_API_KEY, *_TOKEN, *_PASSWORD, *_SECRET), so that a standard variable such as SSL_CERT_FILE
# keeps its meaning. Then it execs `node dist/cli/main.js "$@"` (the role `auto` picks one, below), so that node is PID 1 and gets
# SIGTERM itself.
# Exit 2 (a configuration error, as Flotilla's own) when NAME and NAME_FILE are both set or the
# file cannot be read.
set -eu

for file_var in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1_FILE/p'); do
  var=${file_var%_FILE}
  case "$var" in
    REDIS_URL | CENTRAL_MANAGER_URL | FLOTILLA_* | *_API_KEY | *_TOKEN | *_PASSWORD | *_SECRET) ;;
    *) continue ;;
  esac
  eval "path=\${$file_var}"
  eval "already=\${$var:-}"
  if [ -n "$already" ]; then
    echo "flotilla: both $var and $file_var are set: set only one of them" >&2
    exit 2
  fi
  if [ ! -f "$path" ] || [ ! -r "$path" ]; then
    echo "flotilla: $file_var=$path is not a readable file (is the secret mounted there?)" >&2
    exit 2
  fi
  value=$(cat "$path")
  export "$var=$value"
  unset "$file_var"
done

# Without a command (the image's default, `auto`) the role follows the environment, so the users'
# guide's compose snippets, which set no command, work with this one image: only an agent
# container is given CENTRAL_MANAGER_URL.
if [ "${1:-auto}" = auto ]; then
  [ "$#" -gt 0 ] && shift
  if [ -n "${CENTRAL_MANAGER_URL:-}" ]; then set -- container "$@"; else set -- manager "$@"; fi
fi

exec node "$(dirname "$0")/../dist/cli/main.js" "$@"
