#!/bin/sh
# shellcheck disable=SC2154 # `value` is assigned by eval
# One HTTP exchange on stdin/stdout (nc -ll -e): the routes of the normal
# image, except that /up answers 500.
cr=$(printf '\r')
IFS= read -r line || exit 0
line=${line%"$cr"}
# Drain the headers so closing the socket does not reset the client.
while IFS= read -r header; do
  header=${header%"$cr"}
  [ -z "$header" ] && break
done
target=${line#* }
target=${target%% *}
path=${target%%\?*}
query=
case "$target" in *\?*) query=${target#*\?} ;; esac

reply() {
  printf 'HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
    "$1" "${#2}" "$2"
}

case "$path" in
  /) reply '200 OK' "$WEB_VERSION
" ;;
  /up) reply '500 Internal Server Error' "unhealthy
" ;;
  /cgi-bin/slow)
    seconds=$(/slow-seconds.sh "$query")
    sleep "$seconds"
    reply '200 OK' "$WEB_VERSION
" ;;
  /cgi-bin/env)
    case "$query" in
      ''|[0-9]*|*[!A-Za-z0-9_]*) reply '400 Bad Request' "bad name
" ;;
      *)
        if eval "[ -n \"\${$query+set}\" ]"; then
          eval "value=\${$query}"
          reply '200 OK' "$value
"
        else
          reply '404 Not Found' "unset
"
        fi ;;
    esac ;;
  *) reply '404 Not Found' "not found
" ;;
esac
