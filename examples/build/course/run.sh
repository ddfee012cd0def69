#!/bin/sh
cat "$APP_HOME/motd.txt"
[ "$1" = "--greet" ] && echo "$GREETING (as $(id -un))"
