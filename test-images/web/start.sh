#!/bin/sh
# PID 1 of the test image. A shell with a TERM trap, because a PID 1 without
# a handler ignores SIGTERM and every `docker stop` would wait for the kill.
#   WEB_MODE=normal     busybox httpd on :80
#   WEB_MODE=slowstart  the same, after 8 seconds of not listening
#   WEB_MODE=unhealthy  a tiny server whose /up answers 500 (busybox httpd
#                       cannot answer a non-CGI path with a 500)
child=
trap '[ -n "$child" ] && kill "$child" 2>/dev/null; exit 0' TERM INT

if [ "$WEB_MODE" = slowstart ]; then
  sleep 8 &
  child=$!
  wait "$child"
fi

if [ "$WEB_MODE" = unhealthy ]; then
  nc -ll -p 80 -e /unhealthy-handler.sh &
else
  httpd -f -p 80 -h /www &
fi
child=$!
wait "$child"
