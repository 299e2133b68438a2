#!/bin/sh
# PID 1 ignores SIGTERM without a handler; this trap makes `docker stop` quick.
trap 'kill "$child" 2>/dev/null; exit 0' TERM INT
httpd -f -p 80 -h /www &
child=$!
wait "$child"
