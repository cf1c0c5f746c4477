#!/usr/bin/env bash
# Ensure a Docker engine for the kind e2e platform, or stop the one we started.
#
#   docker.sh [start]   use a working engine, else install Debian's docker.io
#                       and start dockerd in the background (idempotent)
#   docker.sh stop      stop the dockerd this script started, and only that one
#   docker.sh status    say which engine is in use
#
# Why our own dockerd rather than the distribution's service: these machines
# have no init system running services, and Docker's defaults (172.17.0.0/16
# bridge, 172.x/192.168.x pools) are address ranges the project never uses.
# Everything Docker creates lives in 198.19.0.0/16 (the address plan in ARCHITECTURE.md).
set -euo pipefail

STATE_DIR=${GINGHAM_DOCKER_STATE:-/run/gingham-docker}
PIDFILE=$STATE_DIR/dockerd.pid
LOG=$STATE_DIR/dockerd.log
WRAPPER=$STATE_DIR/runc-capfilter
# The default bridge (docker0) and the pool that user networks (kind's "kind")
# are carved from. Disjoint: 198.19.0.0/24 vs 198.19.16.0/20 in /24 pieces.
BIP=198.19.0.1/24
POOL=base=198.19.16.0/20,size=24
RUNTIME_NAME=gingham-runc

log() { echo "docker.sh: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

our_pid() {
  # The pid from our pid file, if that process is still a dockerd.
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [[ -n $pid && -r /proc/$pid/comm && $(cat "/proc/$pid/comm") == dockerd ]] || return 1
  echo "$pid"
}

# True when the capability bounding set lacks CAP_SYS_RESOURCE (bit 24). Then
# runc cannot grant the full set that `docker run --privileged` asks for and
# fails with "unable to apply caps: operation not permitted".
bounding_set_short() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( (16#$bnd >> 24 & 1) == 0 ))
}

install_engine() {
  command -v dockerd >/dev/null && command -v jq >/dev/null && return 0
  log "installing Debian docker.io (and jq for the runtime wrapper)"
  # Never let the package start Docker's own service with its default
  # 172.17.0.0/16 bridge: a policy-rc.d that refuses, unless one exists.
  local policy=/usr/sbin/policy-rc.d added_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io jq >/dev/null
  [[ -z $added_policy ]] || rm -f "$policy"
}

# The runtime wrapper: runc, minus the capabilities this machine cannot grant.
# Written on every start so it always matches this script.
write_wrapper() {
  local real_runc
  real_runc=$(command -v runc)
  cat >"$WRAPPER" <<EOF
#!/bin/bash
# Written by gingham e2e/kind/docker.sh: drop from the OCI config every
# capability outside this process's bounding set, then run the real runc.
set -euo pipefail
REAL_RUNC=$real_runc
EOF
  cat >>"$WRAPPER" <<'EOF'
# Capability names by bit number (linux/capability.h).
NAMES=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
  LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
  SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
  SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
  MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
  CHECKPOINT_RESTORE)

allowed_json() {
  local bnd i out=()
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  for i in "${!NAMES[@]}"; do
    (( bnd >> i & 1 )) && out+=("\"CAP_${NAMES[i]}\"")
  done
  local IFS=,
  echo "[${out[*]}]"
}

# filter FILE JQPATH: keep only allowed names in the five capability sets at
# JQPATH (".process.capabilities" in config.json, ".capabilities" in a
# --process file). Rewritten through a temporary file, then renamed.
filter() {
  local file=$1 path=$2
  [[ -f $file ]] || return 0
  jq --argjson ok "$(allowed_json)" \
    "if $path then $path |= with_entries(
       if (.key | IN(\"bounding\",\"effective\",\"inheritable\",\"permitted\",\"ambient\"))
       then .value |= map(select(IN(\$ok[]))) else . end) else . end" \
    "$file" >"$file.capfilter" && mv "$file.capfilter" "$file"
}

# Find the subcommand (first word that is not a global option) and the
# --bundle / --process values. Global options taking a value in runc 1.1:
# --root --log --log-format --criu --rootless (when written without "=").
cmd= bundle= process= expect=
for arg in "$@"; do
  if [[ -n $expect ]]; then printf -v "$expect" '%s' "$arg"; expect=; continue; fi
  case $arg in
    --bundle|-b) expect=bundle ;;
    --bundle=*) bundle=${arg#--bundle=} ;;
    --process|-p) expect=process ;;
    --process=*) process=${arg#--process=} ;;
    --root|--log|--log-format|--criu|--rootless) [[ -n $cmd ]] || expect=ignored ;;
    -*) ;;
    *) [[ -n $cmd ]] || cmd=$arg ;;
  esac
done
ignored=

case $cmd in
  create|run) filter "${bundle:-$PWD}/config.json" .process.capabilities ;;
  exec) [[ -z $process ]] || filter "$process" .capabilities ;;
esac
exec "$REAL_RUNC" "$@"
EOF
  chmod 0755 "$WRAPPER"
}

start() {
  if engine_up; then
    if our_pid >/dev/null; then
      log "our dockerd is running (pid $(our_pid))"
    else
      log "using the running Docker engine"
      # We cannot change a foreign engine's runtime; say why kind would fail.
      if bounding_set_short && [[ $(docker info -f '{{.DefaultRuntime}}') == runc ]]; then
        log "WARNING: the capability bounding set lacks CAP_SYS_RESOURCE and this engine runs plain runc:"
        log "  kind's privileged nodes will fail with 'unable to apply caps'. Stop that engine and rerun"
        log "  this script to start one with the capability-filtering runtime."
      fi
    fi
    return 0
  fi
  install_engine
  mkdir -p "$STATE_DIR"
  local args=(
    --pidfile "$PIDFILE"
    --bip "$BIP"
    --default-address-pool "$POOL"
  )
  if bounding_set_short; then
    write_wrapper
    args+=(--add-runtime "$RUNTIME_NAME=$WRAPPER" --default-runtime "$RUNTIME_NAME")
    log "bounding set lacks CAP_SYS_RESOURCE: default runtime is $WRAPPER"
  fi
  # A stale pid file from a dead daemon would make dockerd refuse to start.
  our_pid >/dev/null || rm -f "$PIDFILE"
  log "starting dockerd (log: $LOG)"
  # /usr/sbin/dockerd (Debian) rather than any other dockerd on PATH.
  local dockerd=/usr/sbin/dockerd
  [[ -x $dockerd ]] || dockerd=$(command -v dockerd)
  # With stdin, stdout and stderr only: a descriptor the caller passed down (the lock of `flock
  # FILE make kind-up`, a pipe someone reads to its end) would otherwise live as long as dockerd
  # and its containerd, and that lock would never be free again.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
    done
    exec setsid nohup "$dockerd" "${args[@]}" </dev/null >>"$LOG" 2>&1
  ) &
  local _
  for _ in $(seq 1 60); do
    engine_up && { log "dockerd is up (pid $(cat "$PIDFILE"))"; return 0; }
    sleep 1
  done
  log "dockerd did not come up in 60 s; last lines of $LOG:"
  tail -n 20 "$LOG" >&2
  return 1
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    log "no dockerd started by this script is running; nothing to stop"
    return 0
  fi
  log "stopping our dockerd (pid $pid)"
  kill -TERM "$pid"
  local _
  for _ in $(seq 1 30); do
    [[ -d /proc/$pid ]] || { rm -f "$PIDFILE"; log "stopped"; return 0; }
    sleep 1
  done
  log "dockerd $pid still running after 30 s"
  return 1
}

status() {
  if ! engine_up; then echo "no Docker engine answers"; return 1; fi
  if our_pid >/dev/null; then echo "our dockerd, pid $(our_pid), log $LOG"; else echo "a Docker engine not started by this script"; fi
  docker info --format 'server {{.ServerVersion}}, runtime {{.DefaultRuntime}}, cgroup v{{.CgroupVersion}}, storage {{.Driver}}'
}

case ${1:-start} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
