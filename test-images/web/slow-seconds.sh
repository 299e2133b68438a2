#!/bin/sh
# Seconds to sleep for /cgi-bin/slow?N: N when it is 0..30, else the default 5.
case "$1" in
  ''|*[!0-9]*) echo 5 ;;
  *) if [ "${#1}" -le 2 ] && [ "$1" -le 30 ]; then echo "$1"; else echo 5; fi ;;
esac
