# Shared by the interop scripts: a Nimbus server from this checkout on ports chosen from $1 (RTMFP.workers).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
W=${1:?usage: $0 WORKERS (RTMFP.workers, e.g. 0 or 2)}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-interop.XXXXXX")
MEDIA=$OUT/test.flv
ffmpeg -loglevel error -f lavfi -i testsrc=size=320x240:rate=25 -f lavfi -i sine=frequency=440:sample_rate=44100 \
  -t 8 -c:v libx264 -g 25 -pix_fmt yuv420p -c:a aac -f flv "$MEDIA"
count() { ffprobe -v error -show_entries stream=codec_name,nb_read_packets -count_packets -of csv "$1" 2>&1 | tr '\n' ' '; }
start_server() {
  P=$1; R=$2; H=$3
  (cd "$OUT" && exec node "$ROOT/dist/cli.js" --RTMFP.port=$P --RTMP.port=$R --HTTP.port=$H --RTMFP.workers=$W --log=6 > "$OUT/server.log" 2>&1) &
  SRV=$!
  trap 'kill $SRV 2>/dev/null' EXIT
  sleep 2
}
stop_server() {
  kill $SRV; wait $SRV 2>/dev/null
  echo "server warnings and errors:"; grep -ai "warn\|error" "$OUT/server.log" | head -8
  echo "logs in $OUT"
}
