#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft, broker+controller in one JVM) without Docker.
#
#   deploy/kafka/kafka.sh start    resolve jars (Maven) once, format storage once, start, wait, print bootstrap
#   deploy/kafka/kafka.sh status   print "running <bootstrap> pid <pid>" or "stopped" (exit 0 / 3)
#   deploy/kafka/kafka.sh stop     stop the broker this script started (by its pid file)
#
# Idempotent: start on a running broker only prints its address. Environment:
#   ACTORWATCH_KAFKA_PORT      client port (default 9092); the controller listens on PORT+1
#   ACTORWATCH_KAFKA_RUNTIME   folder for jars, data, logs and the pid file (default deploy/kafka/.runtime)
#   ACTORWATCH_KAFKA_HEAP      JVM heap (default 768m; kept at or under 1g)
#   ACTORWATCH_KAFKA_EXTRA_CONFIG  a properties file appended last to the broker's config (its keys win), e.g.
#                                  extra SSL/SASL listeners; unset by default
#   ACTORWATCH_KAFKA_FORMAT_ARGS   extra words for the one-time storage format, e.g.
#                                  "--add-scram SCRAM-SHA-256=[name=alice,password=...]"; unset by default
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${ACTORWATCH_KAFKA_PORT:-9092}"
controller_port=$((port + 1))
runtime="${ACTORWATCH_KAFKA_RUNTIME:-$here/.runtime}"
heap="${ACTORWATCH_KAFKA_HEAP:-768m}"
libs="$runtime/libs"
data="$runtime/data-$port"
logs="$runtime/logs-$port"
pidfile="$runtime/kafka-$port.pid"
config="$runtime/server-$port.properties"
bootstrap="127.0.0.1:$port"

die() { echo "kafka.sh: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid; pid="$(cat "$pidfile")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

resolve_jars() {
  if [[ -f "$libs/.complete" ]]; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) is required to resolve Kafka from Maven Central"
  echo "kafka.sh: resolving Apache Kafka from Maven Central into $libs" >&2
  mkdir -p "$libs"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -Dkafka.libs="$libs" >&2 \
    || die "could not resolve Kafka jars with Maven"
  touch "$libs/.complete"
}

java_bin() {
  command -v java >/dev/null || die "Java 17+ is required (java not found)"
  local major
  major="$(java -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p')"
  [[ -n "$major" && "$major" -ge 17 ]] || die "Java 17+ is required (found: ${major:-unknown})"
  echo java
}

write_config() {
  mkdir -p "$data" "$logs"
  # Later keys win in a Java properties file: the template's defaults, then this run's port and folders.
  {
    cat "$here/server.properties"
    echo
    echo "# --- set by kafka.sh for this runtime ---"
    echo "controller.quorum.voters=1@127.0.0.1:$controller_port"
    echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
    echo "log.dirs=$data"
    if [[ -n "${ACTORWATCH_KAFKA_EXTRA_CONFIG:-}" ]]; then
      [[ -f "$ACTORWATCH_KAFKA_EXTRA_CONFIG" ]] || die "ACTORWATCH_KAFKA_EXTRA_CONFIG: no file $ACTORWATCH_KAFKA_EXTRA_CONFIG"
      echo
      echo "# --- appended from ACTORWATCH_KAFKA_EXTRA_CONFIG ---"
      cat "$ACTORWATCH_KAFKA_EXTRA_CONFIG"
    fi
  } > "$config"
}

start() {
  if pid="$(running_pid)"; then
    echo "$bootstrap"; return 0
  fi
  if port_open "$port"; then
    die "port $port is in use by a process this script did not start; choose another port (ACTORWATCH_LOCAL_KAFKA_PORT for actorwatch up/demo, ACTORWATCH_KAFKA_PORT for kafka.sh and the tests)"
  fi
  resolve_jars
  local java; java="$(java_bin)"
  write_config
  local cp="$libs/*"
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$("$java" -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    # Split on whitespace only: read -a does not glob the brackets of --add-scram values.
    local -a format_args=()
    read -r -a format_args <<< "${ACTORWATCH_KAFKA_FORMAT_ARGS:-}"
    "$java" -Dkafka.logs.dir="$logs" -Dlog4j2.configurationFile="$here/log4j2.properties" \
      -cp "$cp" kafka.tools.StorageTool format -t "$cluster_id" -c "$config" "${format_args[@]}" \
      >"$logs/format.log" 2>&1 \
      || die "formatting storage failed; see $logs/format.log"
  fi
  nohup "$java" -Xms256m -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dkafka.logs.dir="$logs" -Dlog4j2.configurationFile="$here/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$config" >"$logs/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  local pid=$!
  for _ in $(seq 1 240); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pidfile"
      tail -n 20 "$logs/stdout.log" "$logs/server.log" >&2 2>/dev/null || true
      die "broker exited during start-up; logs in $logs"
    fi
    if port_open "$port"; then echo "$bootstrap"; return 0; fi
    sleep 0.25
  done
  die "broker did not accept connections on $bootstrap within 60 s; logs in $logs"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then echo "stopped"; rm -f "$pidfile"; return 0; fi
  kill -TERM "$pid"
  for _ in $(seq 1 120); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "stopped"; return 0; }
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"; echo "stopped (killed after 30 s)"
}

status() {
  local pid
  if pid="$(running_pid)"; then echo "running $bootstrap pid $pid"; return 0; fi
  echo "stopped"; return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  resolve) resolve_jars ;;
  *) echo "usage: $0 start|stop|status|resolve" >&2; exit 2 ;;
esac
